"""The one checkpoint loader (``core.training_state.load_checkpoint``, used by training, preflight and the
tools): every damaged or foreign checkpoint is a CheckpointError naming the file and the fix, never a traceback."""
import io
import random

import pytest
import torch

from opengait_gaitbert.core.training_state import load_checkpoint
from opengait_gaitbert.tools.checkpoint import CHECKPOINT_FIX, CheckpointError


def saved_bytes():
    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.arange(100.0)}, "iteration": 3}, buffer)
    return buffer.getvalue()


def damaged(seed):
    """Seeded damage of three kinds: random bytes, a truncated file, a few overwritten bytes."""
    rng, good = random.Random(seed), saved_bytes()
    kind = seed % 3
    if kind == 0:
        return rng.randbytes(2000)
    if kind == 1:
        return good[:rng.randrange(len(good))]
    data = bytearray(good)
    for _ in range(5):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_every_damaged_checkpoint_is_named_or_loads_unchanged(tmp_path):
    """300 seeded damages; on them torch.load raises UnpicklingError, RuntimeError, UnicodeDecodeError and
    IndexError (torch 2.14), or loads: bytes overwritten inside a tensor's data then load as wrong weights,
    which only the zip records' CRC-32 reveals. A damaged file may load only when the bytes that changed
    are ones nothing reads (the zip format's alignment padding), i.e. with exactly the saved content."""
    path = tmp_path / "GaitBERT-00003.pt"
    refused = 0
    for seed in range(300):
        path.write_bytes(damaged(seed))
        try:
            checkpoint = load_checkpoint(path, fix=CHECKPOINT_FIX)
        except CheckpointError as err:
            assert str(err).startswith(f"{path}: cannot be read with weights_only=True (")
            assert str(err).endswith(CHECKPOINT_FIX)
            refused += 1
            continue
        assert seed % 3 == 2, "random bytes and truncated files never load"
        assert checkpoint["iteration"] == 3 and torch.equal(checkpoint["model"]["w"], torch.arange(100.0)), seed
    assert refused >= 290  # as measured: 299 (one damage fell into padding only)


def test_changed_tensor_bytes_are_refused_by_their_checksum(tmp_path):
    path = tmp_path / "GaitBERT-00003.pt"
    data = bytearray(saved_bytes())
    weights = torch.arange(100.0).numpy().tobytes()
    data[data.find(weights) + 50] ^= 0xFF  # one byte of one float: torch.load alone returns a wrong weight
    path.write_bytes(bytes(data))
    assert not torch.equal(torch.load(path, weights_only=True)["model"]["w"], torch.arange(100.0))
    with pytest.raises(CheckpointError, match=r"the record .*data/0 fails its CRC-32 check.*bytes changed"):
        load_checkpoint(path, fix=CHECKPOINT_FIX)


def test_a_checkpoint_saved_without_checksums_loads(tmp_path):
    """torch.serialization.set_crc32_options(False) saves every record's CRC as 0: nothing to check."""
    if not hasattr(torch.serialization, "set_crc32_options"):
        pytest.skip("this torch has no set_crc32_options: it always writes checksums")
    path = tmp_path / "GaitBERT-00003.pt"
    torch.serialization.set_crc32_options(False)
    try:
        torch.save({"model": {"w": torch.arange(100.0)}, "iteration": 3}, path)
    finally:
        torch.serialization.set_crc32_options(True)
    assert torch.equal(load_checkpoint(path, fix=CHECKPOINT_FIX)["model"]["w"], torch.arange(100.0))


class Pickled:
    """A Python object in a checkpoint: weights_only loading must refuse it, naming the class."""


def test_a_checkpoint_holding_python_objects_is_refused_by_name(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"model": {"w": torch.ones(2)}, "extra": Pickled()}, path)
    with pytest.raises(CheckpointError, match=r"foreign\.pt: cannot be read with weights_only=True \(it holds "
                                              r"Python objects: .*Pickled\)"):
        load_checkpoint(path, fix=CHECKPOINT_FIX)


def test_a_checkpoint_that_is_not_a_dict_is_refused(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.ones(2)], path)
    with pytest.raises(CheckpointError, match=r"list\.pt: holds a list, not OpenGait's .*Pass a checkpoint saved"):
        load_checkpoint(path, fix=CHECKPOINT_FIX)


def test_a_missing_checkpoint_names_the_way_back(tmp_path):
    """Without a fix the loader speaks to a training resume: the run's previous checkpoint and its --iter."""
    torch.save({"iteration": 3}, tmp_path / "run-00003.pt")
    with pytest.raises(CheckpointError, match=r"run-00006\.pt: checkpoint not found\. .*--iter 3"):
        load_checkpoint(tmp_path / "run-00006.pt")
    with pytest.raises(CheckpointError, match=r"x\.pt: checkpoint not found\. Pass a checkpoint saved"):
        load_checkpoint(tmp_path / "x.pt", fix=CHECKPOINT_FIX)


def test_tools_build_the_network_a_checkpoint_stores_and_name_what_the_config_says_otherwise(tmp_path, capsys):
    """The adapter stores ``model_cfg`` in every checkpoint: the tools build that network even when
    ``--cfgs`` says otherwise (and say so). An older file without it must fit the config; a misfit
    names what its weights reveal."""
    import yaml
    from tiny_model import tiny_cfg

    from opengait_gaitbert.core.model import GaitBERTNet, NetworkConfig
    from opengait_gaitbert.tools.checkpoint import load_model

    trained_cfg = yaml.safe_load(tiny_cfg(channels=(8, 16, 64)))["model_cfg"]
    trained_cfg["temporal_heads"] = 2
    net = GaitBERTNet(NetworkConfig.from_dict(trained_cfg))
    weights = {f"net.{k}": v for k, v in net.state_dict().items()}
    torch.save({"model": weights, "iteration": 1, "model_cfg": trained_cfg}, tmp_path / "new-00001.pt")
    torch.save({"model": weights, "iteration": 1}, tmp_path / "old-00001.pt")
    (tmp_path / "cfg.yaml").write_text(tiny_cfg(channels=(8, 16, 32)))

    loaded, cfg = load_model(tmp_path / "cfg.yaml", tmp_path / "new-00001.pt")
    assert loaded.config.channels == [8, 16, 64] and loaded.config.temporal_heads == 2
    assert cfg["model_cfg"] == trained_cfg
    for key, value in net.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)
    note = capsys.readouterr().err
    assert "new-00001.pt: built from the model_cfg it was trained with; " in note
    assert "cfg.yaml differs in channels, temporal_heads." in note

    with pytest.raises(CheckpointError, match="does not fit") as err:
        load_model(tmp_path / "cfg.yaml", tmp_path / "old-00001.pt")
    assert "The checkpoint's weights say channels: [8, 16, 64] (config: [8, 16, 32])" in str(err.value)

    # a stored model_cfg that no longer validates (a key since removed): the config builds it
    torch.save({"model": weights, "iteration": 1, "model_cfg": {**trained_cfg, "mask_channel": False}},
               tmp_path / "retired-00001.pt")
    (tmp_path / "fits.yaml").write_text(tiny_cfg(channels=(8, 16, 64)))
    loaded, _ = load_model(tmp_path / "fits.yaml", tmp_path / "retired-00001.pt")
    assert loaded.config.channels == [8, 16, 64] and loaded.config.temporal_heads == 4
    note = capsys.readouterr().err
    assert "retired-00001.pt: model_cfg: `mask_channel` was removed" in note and "fits.yaml instead" in note
