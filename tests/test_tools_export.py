"""``export`` (ONNX / TorchScript, dynamic length) and checkpoint loading; no OpenGait."""
from __future__ import annotations

import pathlib
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from tiny_model import perturbed, tiny_cfg
from opengait_gaitbert.launcher import cli
from opengait_gaitbert.tools.checkpoint import CheckpointError, load_model
from opengait_gaitbert.tools.export import FORMATS, export, load_exported, report, verify

pytestmark = pytest.mark.usefixtures("one_thread")


LENGTHS = (8, 20, 45, 75)  # 45 and 75 span two and three attention windows of 30
WINDOW_COUNTS = (1, 17, 47, 95)  # one frame, less than a window of 30, two and four windows (partial last)


def write_cfg(folder: Path, channels=(8, 16, 32), temporal="transformer", name="tiny.yaml") -> Path:
    path = folder / name
    path.write_text(tiny_cfg(channels, temporal, layers=2))
    return path


def opengait_checkpoint(net, path: Path, prefix: str = "net.") -> Path:
    """Save like OpenGait's BaseModel.save_ckpt, with optimizer and MultiStepLR state."""
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[20, 40])
    torch.save({"model": {prefix + k: v for k, v in net.state_dict().items()},
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "iteration": 40}, path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(config path, checkpoint path, the net whose weights the checkpoint holds)."""
    folder = tmp_path_factory.mktemp("model")
    cfg = write_cfg(folder)
    torch.manual_seed(0)
    net = perturbed(load_model(cfg)[0])
    return cfg, opengait_checkpoint(net, folder / "GaitBERT-00040.pt"), net


# --------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["net.", "module.net.", ""])
def test_loads_opengait_checkpoint_with_weights_only(trained, tmp_path, prefix):
    cfg, _, source = trained
    ckpt = opengait_checkpoint(source, tmp_path / "c.pt", prefix)
    net, loaded_cfg = load_model(cfg, ckpt)
    assert not net.training and loaded_cfg["model_cfg"]["channels"] == [8, 16, 32]
    for key, value in source.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key
    x = torch.rand(1, 12, 64, 44)
    with torch.no_grad():
        assert torch.equal(net.embed(x), source.eval().embed(x))


def test_config_of_another_model_is_refused(tmp_path):
    from opengait_gaitbert.core.errors import ConfigError
    cfg = write_cfg(tmp_path)
    cfg.write_text(cfg.read_text().replace("model: GaitBERT", "model: GaitBase"))
    with pytest.raises(ConfigError, match=f"{cfg}: model_cfg.model is 'GaitBase'"):
        load_model(cfg)


def test_checkpoint_of_other_channels_names_both_files_and_the_fix(trained, tmp_path):
    cfg, _, _ = trained
    other_cfg = write_cfg(tmp_path, channels=(8, 16, 64), name="wide.yaml")
    other = opengait_checkpoint(load_model(other_cfg)[0], tmp_path / "wide.pt")
    with pytest.raises(CheckpointError) as info:
        load_model(cfg, other)
    msg = str(info.value)
    assert str(other) in msg and str(cfg) in msg
    assert "shape mismatches" in msg and "[64, " in msg
    assert "channels: [8, 16, 64] (config: [8, 16, 32])" in msg  # read off the weights


def test_checkpoint_of_other_temporal_module_lists_keys(trained, tmp_path):
    cfg, _, _ = trained
    conv_cfg = write_cfg(tmp_path, temporal="conv", name="conv.yaml")
    conv_ckpt = opengait_checkpoint(load_model(conv_cfg)[0], tmp_path / "conv.pt")
    with pytest.raises(CheckpointError, match=r"missing keys: temporal\.") as info:
        load_model(cfg, conv_ckpt)
    assert "unexpected keys: temporal.layers" in str(info.value)
    assert "temporal: conv (config: transformer)" in str(info.value)


def test_missing_checkpoint_is_named(trained, tmp_path):
    with pytest.raises(CheckpointError, match="nope.pt: checkpoint not found"):
        load_model(trained[0], tmp_path / "nope.pt")


class _Payload:
    """Pickles as a call to Path.touch: loading it with full pickle would create a file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def test_checkpoint_with_code_is_refused_and_never_runs(trained, tmp_path):
    marker = tmp_path / "code-ran"
    ckpt = tmp_path / "evil.pt"
    torch.save({"model": trained[2].state_dict(), "extra": _Payload(marker)}, ckpt)
    with pytest.raises(CheckpointError, match="weights_only=True") as info:
        load_model(trained[0], ckpt)
    assert str(ckpt) in str(info.value)
    assert not marker.exists()


# --------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------

@pytest.fixture(scope="module", params=FORMATS)
def cli_export(request, trained, tmp_path_factory):
    """(format, exported file, what ``export`` printed): one CLI export of the trained checkpoint per
    format, with the default check lengths; ONNX exports cost seconds each, so the tests share them."""
    fmt = request.param
    cfg, ckpt, _ = trained
    out = tmp_path_factory.mktemp(f"export-{fmt}") / f"m.{fmt}"
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli.main(["export", "--cfgs", str(cfg), "--ckpt", str(ckpt), "--format", fmt, "--out", str(out)])
    assert code == 0, printed.getvalue()
    return fmt, out, printed.getvalue()


def test_cli_default_lengths_cover_one_frame_and_partial_last_windows(cli_export):
    """Without --check-lengths: 1 frame, 17 (< one 30-frame window), 47 and 95 (partial last
    windows), each within the tolerance, from one export of the trained checkpoint."""
    _, _, printed = cli_export
    checked = [line.split() for line in printed.splitlines() if line.strip().startswith("s=")]
    assert [int(words[0][2:]) for words in checked] == list(WINDOW_COUNTS)
    assert all(words[-1] == "ok" for words in checked), printed
    assert "verified" in printed


def test_exported_file_reproduces_the_checkpoint_on_unseen_lengths(cli_export, trained):
    """Independently of the CLI's own check: the file, run by onnxruntime or TorchScript, gives the
    embedding of the network the checkpoint holds, also where frames are empty (skipped by the max)."""
    fmt, out, _ = cli_export
    net = trained[2]
    run = load_exported(fmt, out)
    blanked = torch.rand(1, 33, 64, 44)
    blanked[:, 5:20] = 0  # empty frames, which the temporal max skips
    for x in (torch.rand(1, 3, 64, 44), torch.rand(1, 33, 64, 44), blanked, torch.zeros(1, 4, 64, 44)):
        with torch.no_grad():
            expected = net.eval().embed(x).numpy()
        got = run(x.numpy())
        assert got.shape == (1, 32, 16)
        assert np.abs(got - expected).max() <= 1e-4


def test_cli_check_lengths_verifies_each_length(trained, tmp_path, capsys):
    """--check-lengths replaces the defaults (TorchScript: the option's path, cheaply)."""
    cfg, ckpt, _ = trained
    code = cli.main(["export", "--cfgs", str(cfg), "--ckpt", str(ckpt), "--format", "torchscript",
                     "--out", str(tmp_path / "m.pt"), "--check-lengths", ",".join(map(str, LENGTHS))])
    printed = capsys.readouterr().out
    assert code == 0, printed
    checked = [int(line.split()[0][2:]) for line in printed.splitlines() if line.strip().startswith("s=")]
    assert checked == list(LENGTHS)


@pytest.mark.parametrize("cli_export", ["onnx"], indirect=True)
def test_onnx_has_dynamic_length_and_no_decoder(cli_export, trained):
    import onnx

    _, out, _ = cli_export
    net = trained[2]
    model = onnx.load(str(out))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == [1, "s", 64, 44]
    exported = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    decoder = sum(p.numel() for p in net.decoder.parameters())
    total = sum(p.numel() for p in net.parameters())
    assert exported < total - decoder + 1000  # the decoder's weights are not in the file


@pytest.mark.parametrize("temporal", ["transformer", "conv"])
def test_one_export_follows_the_core_at_any_window_count(tmp_path, temporal):
    """Each temporal module's export (traced at 16 frames: one window) reproduces ``net.embed``
    at 1 frame, within one window, and over two and four windows with a partial last one."""
    net = perturbed(load_model(write_cfg(tmp_path, temporal=temporal))[0])
    for fmt in FORMATS:
        diffs = verify(net, fmt, export(net, fmt, tmp_path / f"m.{fmt}"), WINDOW_COUNTS)
        assert max(diffs.values()) <= 1e-4, (fmt, diffs)


def test_head_without_identities_exports(tmp_path):
    """``class_num: 0`` (pretraining: the embedding is the pooled bottleneck) exports too."""
    cfg = write_cfg(tmp_path)
    cfg.write_text(cfg.read_text().replace("class_num: 4", "class_num: 0").replace("  pretrain_fraction: 0.3\n", ""))
    net = perturbed(load_model(cfg)[0])
    assert not net.head.identity
    for fmt in FORMATS:
        out = export(net, fmt, tmp_path / f"m.{fmt}")
        assert load_exported(fmt, out)(np.zeros((1, 3, 64, 44), np.float32)).shape == (1, 32, 16)
        diffs = verify(net, fmt, out, (1, 47))
        assert max(diffs.values()) <= 1e-4, (fmt, diffs)


def test_strided_embedding_exports(tmp_path):
    """``embed_stride: 2`` (a 4x4 patch embedding at half resolution) is in the exported graph."""
    cfg = write_cfg(tmp_path, channels=(16, 32))
    cfg.write_text(cfg.read_text().replace("embed_stride: 1", "embed_stride: 2"))
    net = perturbed(load_model(cfg)[0])
    assert net.config.embed_stride == 2 and net.frame_embedding.conv[0].kernel_size == (4, 4)
    for fmt in FORMATS:
        diffs = verify(net, fmt, export(net, fmt, tmp_path / f"m.{fmt}"), (4, 31))
        assert max(diffs.values()) <= 1e-4, (fmt, diffs)


def test_report_fails_above_tolerance(capsys):
    assert report({8: 1e-6, 20: 2e-7}) == 0
    assert report({8: 1e-6, 20: 3e-3}) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "[20]" in captured.err


def test_cli_rejects_bad_lengths(trained, tmp_path, capsys):
    code = cli.main(["export", "--cfgs", str(trained[0]), "--format", "onnx",
                     "--out", str(tmp_path / "m.onnx"), "--check-lengths", "8,x"])
    assert code == 2 and "--check-lengths" in capsys.readouterr().err


@pytest.mark.parametrize("cli_export", ["onnx"], indirect=True)
def test_tools_run_without_opengait(trained, cli_export, tmp_path):
    """Loading a checkpoint, exporting, verifying and running exports work through the pure core: in a
    fresh interpreter they run end to end and OpenGait's top-level packages are never imported
    (the tools import torch and onnxruntime lazily, so importing the modules alone would prove little).
    The subprocess exports TorchScript and runs the shared ONNX file (an ONNX export costs seconds)."""
    import subprocess
    import sys

    _, exported, _ = cli_export
    cfg, ckpt, _ = trained
    code = f"""
import sys
from opengait_gaitbert.tools import checkpoint, export, identify, visualize
net, _ = checkpoint.load_model({str(cfg)!r}, {str(ckpt)!r}, "cpu")
out = export.export(net, "torchscript", {str(tmp_path / "m.pt")!r})
assert max(export.verify(net, "torchscript", out, (3, 33)).values()) <= 1e-4
assert max(export.verify(net, "onnx", {str(exported)!r}, (3, 33)).values()) <= 1e-4
bad = {{'modeling', 'data', 'utils', 'evaluation'}} & set(sys.modules)
assert not bad, bad
print("RAN", sorted(m for m in ("torch", "onnxruntime") if m in sys.modules))
"""
    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RAN ['onnxruntime', 'torch']" in done.stdout  # the work really happened in there


@pytest.mark.parametrize("category", [DeprecationWarning, FutureWarning])
def test_loading_a_torchscript_file_lets_no_deprecation_notice_out(tmp_path, monkeypatch, category):
    """torch.jit.load, TorchScript's only loader, announces its deprecation as a DeprecationWarning up to
    torch 2.13 and as a FutureWarning from 2.14; checking an export must print neither, on any torch."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jit.script's own deprecation notice: making the file is not the test
        torch.jit.script(torch.nn.Identity()).save(str(tmp_path / "m.pt"))
    real_load = torch.jit.load

    def load_as_that_torch(*args, **kwargs):
        warnings.warn("`torch.jit.load` is deprecated. Please switch to `torch.export`.", category)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch.jit, "load", load_as_that_torch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that gets out fails the test
        run = load_exported("torchscript", tmp_path / "m.pt")
    assert run(np.ones((1, 2, 64, 44), np.float32)).shape == (1, 2, 64, 44)
