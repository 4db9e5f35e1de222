"""Untrusted pkl files and checkpoints run no code in training or testing through a real OpenGait.

Each test puts a pickle whose unpickling would create a marker file (or crash numpy, or block
on a FIFO) where a sequence or a checkpoint belongs, and asserts the run is refused, naming the
file and the way on, and that the marker never appears: in the launcher before any process
starts, in OpenGait's own DataSet (a file swapped mid-run), in OpenGait's checkpoint restore,
and in a plain OpenGait import protected by the startup hook, as ``opengait/main.py`` users run it.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import torch

from malicious import ShellTouch, write_malicious_pkl
from opengait_gaitbert.core.errors import EXIT_USER_ERROR
from opengait_gaitbert.launcher import cli
from opengait_gaitbert.launcher.preflight import checkpoint_path
from opengait_gaitbert.launcher.run import launch

from .conftest import demo_cfg, train_in_background_until_iteration_1, write_cfg


def poisoned_copy(synth_data: Path, tmp_path: Path, pid: str):
    """A copy of the data whose first pkl of ``pid`` is malicious: (root, that file, marker)."""
    data = tmp_path / "data"
    shutil.copytree(synth_data, data)
    victim = sorted((data / pid).glob("*/*/*.pkl"))[0]
    marker = tmp_path / "PWNED"
    write_malicious_pkl(victim, marker)
    return data, victim, marker


def split(data: Path) -> dict:
    return json.loads((data / "partition.json").read_text())


@pytest.mark.parametrize("phase", ["train", "test"])
def test_launcher_refuses_a_malicious_pkl_before_any_process_starts(opengait_root, synth_data, tmp_path, capsys,
                                                                    phase):
    pid = split(synth_data)["TRAIN_SET" if phase == "train" else "TEST_SET"][0]
    data, victim, marker = poisoned_copy(synth_data, tmp_path, pid)
    cfg = demo_cfg(data, iters=2)
    cfg["evaluator_cfg"]["restore_hint"] = 0  # the test phase: nothing to restore, it is refused before
    cfg_file = write_cfg(cfg, tmp_path)
    code = cli.main([phase, "--cfgs", str(cfg_file), "--opengait", str(opengait_root), "--device", "cpu",
                     "--workdir", str(tmp_path)])
    out = capsys.readouterr()
    assert code == EXIT_USER_ERROR, out.out[-2000:] + out.err[-2000:]
    assert f"{victim}: refused to unpickle: it names the global `posix.system`" in out.err
    assert "check-data" in out.err and "--trust-data" in out.err and "Traceback" not in out.err
    assert "Iteration" not in out.out and "torch.distributed" not in out.err  # no worker ever started
    assert not marker.exists()


def test_a_pkl_swapped_for_a_malicious_one_mid_run_is_refused_by_opengaits_loader(opengait_root, synth_data,
                                                                                tmp_path):
    """The launcher checked the files at the start; OpenGait's DataSet still unpickles with the allow-list."""
    data = tmp_path / "data"
    shutil.copytree(synth_data, data)
    marker = tmp_path / "PWNED"
    cfg = write_cfg(demo_cfg(data, iters=200), tmp_path)
    runner, lines, result = train_in_background_until_iteration_1(cfg, opengait_root, tmp_path)
    pid = split(data)["TRAIN_SET"][0]
    for pkl in (data / pid).glob("*/*/*.pkl"):  # every file of one training id, listed when the run started
        write_malicious_pkl(pkl, marker)
    runner.join(timeout=240)
    text = "\n".join(lines)
    assert not runner.is_alive() and result["code"] != 0, text[-3000:]
    assert "safe pkl loading: " in text  # the launcher's check, before the start
    assert "UnsafePickleError: " in text and "refused to unpickle: it names the global `posix.system`" in text
    assert f"{data / pid}" in text
    assert not marker.exists()


def test_trust_data_loads_with_plain_pickle_and_says_so(opengait_root, synth_data, tmp_path):
    cfg = write_cfg(demo_cfg(synth_data, iters=1), tmp_path)
    lines = []
    code = launch("train", str(cfg), opengait=str(opengait_root), device="cpu", workdir=str(tmp_path),
                  output=lines, trust_data=True)
    text = "\n".join(lines)
    assert code == 0, text[-3000:]
    # Said once, by the launcher, with its reason; the workers do not repeat it.
    assert "[opengait-gaitbert] pkl files are loaded with plain pickle (--trust-data)" in text
    assert text.count("loaded with plain pickle") == 1 and "safe pkl loading" not in text


def test_a_trust_variable_that_is_not_1_or_0_stops_the_launcher(opengait_root, synth_data, tmp_path, capsys,
                                                                 monkeypatch):
    cfg = write_cfg(demo_cfg(synth_data, iters=1), tmp_path)
    monkeypatch.setenv("OPENGAIT_GAITBERT_TRUST_DATA", "false")
    code = cli.main(["train", "--cfgs", str(cfg), "--opengait", str(opengait_root), "--device", "cpu",
                     "--workdir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR and "OPENGAIT_GAITBERT_TRUST_DATA='false' is invalid; allowed: 1" in err


def doc_row(name: str):
    """The (command, quoted message, exit status) of the docs/data-safety.md table row ``name``."""
    from test_data_safety import doc_rows
    return next((command, message, status) for row_name, command, message, status in doc_rows() if row_name == name)


def test_a_checkpoint_that_runs_code_is_refused_by_the_test_phase_before_it_starts(opengait_root, synth_data,
                                                                                   tmp_path, capsys):
    """The doc table's row: the test phase's integer restore_hint reads the checkpoint weights-only."""
    command, message, status = doc_row("checkpoint whose unpickling runs code, restored by the test phase's "
                                       "integer restore_hint")
    cfg = demo_cfg(synth_data, iters=5)
    marker = tmp_path / "PWNED"
    ckpt = checkpoint_path(cfg, "evaluator_cfg", 5, tmp_path)
    ckpt.parent.mkdir(parents=True)
    torch.save({"model": {}, "payload": ShellTouch(marker)}, ckpt)
    code = cli.main([command, "--cfgs", str(write_cfg(cfg, tmp_path)), "--opengait", str(opengait_root),
                     "--device", "cpu", "--workdir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == status and message in err and str(ckpt) in err and "Traceback" not in err, err[-2000:]
    assert not marker.exists()


CHECKPOINT_SCRIPT = """
    import os, sys, types
    sys.path.insert(0, {opengait!r})
    {register}
    import modeling.models  # the startup hook registers here; register() above did it already
    import modeling.base_model as base_model
    from opengait_gaitbert.core.errors import CheckpointError
    # The test phase's integer restore_hint: resume_ckpt(5) -> _load_ckpt(path) -> torch.load(path, ...)
    restorer = types.SimpleNamespace(engine_cfg=dict(save_name='x', restore_ckpt_strict=True), device=0,
                                     save_path={folder!r}, training=False)
    restorer._load_ckpt = lambda path: base_model.BaseModel._load_ckpt(restorer, path)
    try:
        base_model.BaseModel.resume_ckpt(restorer, 5)
    except CheckpointError as err:
        print('REFUSED', 'posix.system' in str(err))
"""


@pytest.mark.parametrize("how", ["startup hook", "register()"])
def test_opengaits_checkpoint_restore_is_weights_only_even_where_torch_defaults_to_unpickling(
        opengait_root, tmp_path, how):
    """TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 makes torch.load default to weights_only=False, as torch 2.5
    did: OpenGait's own _load_ckpt would then run the checkpoint's code; patch P6 reads it weights-only."""
    pth = Path(sysconfig.get_paths()["purelib"]) / "opengait_gaitbert.pth"
    if how == "startup hook" and not pth.is_file():
        pytest.skip(f"{pth} is not installed; run `pip install .` first (the hook ships with the install)")
    marker = tmp_path / "PWNED"
    (tmp_path / "checkpoints").mkdir()
    torch.save({"model": {}, "payload": ShellTouch(marker)}, tmp_path / "checkpoints" / "x-00005.pt")
    script = CHECKPOINT_SCRIPT.format(
        opengait=str(opengait_root / "opengait"), folder=str(tmp_path),
        register="import opengait_gaitbert; opengait_gaitbert.register()" if how == "register()" else "")
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    if how == "register()":
        env["OPENGAIT_GAITBERT_DISABLE"] = "1"
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "REFUSED True" in result.stdout.splitlines(), result.stdout + result.stderr[-2000:]
    assert not marker.exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


DATASET_SCRIPT = """
    import os, pickle, sys
    sys.path.insert(0, {opengait!r})
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT='{port}', RANK='0', WORLD_SIZE='1')
    import torch
    torch.distributed.init_process_group('gloo')
    from utils import get_msg_mgr
    get_msg_mgr().init_logger({log!r}, False)
    {register}
    import data.dataset as dataset
    from opengait_gaitbert.core.errors import UnsafePickleError
    sys.path.insert(0, {tests!r})
    from malicious import write_malicious_pkl
    cfg = dict(dataset_name='CASIA-B', dataset_root={data!r}, dataset_partition={partition!r})
    print('PICKLE', type(dataset.pickle).__name__)
    clean = dataset.DataSet(cfg, training=True)  # every listed file checked: all clean
    print('BUILT', len(clean))
    write_malicious_pkl(clean.seqs_info[0][-1][0], {marker!r})
    try:
        clean[0]  # OpenGait's __loader__: the swapped file is unpickled with the allow-list
    except UnsafePickleError as err:
        print('LOAD REFUSED', err.global_name)
    try:
        dataset.DataSet(cfg, training=True)  # listed again: refused before anything is loaded
    except UnsafePickleError as err:
        print('LIST REFUSED', err.global_name, err.path == clean.seqs_info[0][-1][0])
    from malicious import object_pointer_pkl, zero_stride_pkl
    from opengait_gaitbert.core.errors import SequenceReadError
    victim = clean.seqs_info[1][-1][0]
    for name, make in (('POINTERS', object_pointer_pkl), ('ZERO STRIDES', zero_stride_pkl)):
        with open(victim, 'wb') as out:
            out.write(make())  # names only numpy's globals: numpy itself would crash or claim 4 TB
        try:
            clean[1]
        except UnsafePickleError as err:
            print(name, 'REFUSED', 'refused to unpickle' in str(err))
    from malicious import silhouettes
    for path in (clean.seqs_info[0][-1][0], victim):  # clean again: the FIFO is the one problem left
        with open(path, 'wb') as out:
            pickle.dump(silhouettes(), out)
    os.remove(victim)
    os.mkfifo(victim)  # a FIFO where a sequence was: opening it for reading would block forever
    try:
        clean[1]
    except SequenceReadError as err:
        print('FIFO LOAD REFUSED', 'is a FIFO' in str(err))
    try:
        dataset.DataSet(cfg, training=True)
    except SequenceReadError as err:
        print('FIFO LIST REFUSED', 'is a FIFO' in str(err))
"""


@pytest.mark.parametrize("how", ["startup hook", "register()"])
def test_opengaits_own_dataset_is_protected(opengait_root, synth_data, tmp_path, how):
    """``startup hook``: what a user of OpenGait's own main.py gets from the install alone;
    ``register()``: what the launcher's worker does, with the hook switched off."""
    pth = Path(sysconfig.get_paths()["purelib"]) / "opengait_gaitbert.pth"
    if how == "startup hook" and not pth.is_file():
        pytest.skip(f"{pth} is not installed; run `pip install .` first (the hook ships with the install)")
    data = tmp_path / "data"
    shutil.copytree(synth_data, data)
    marker = tmp_path / "PWNED"
    script = DATASET_SCRIPT.format(
        opengait=str(opengait_root / "opengait"), port=free_port(), log=str(tmp_path / "log"),
        register="import opengait_gaitbert; opengait_gaitbert.register()" if how == "register()" else "",
        tests=str(Path(__file__).resolve().parents[1]), data=str(data), partition=str(data / "partition.json"),
        marker=str(marker))
    env = {k: v for k, v in __import__("os").environ.items() if k != "OPENGAIT_GAITBERT_TRUST_DATA"}
    if how == "register()":
        env["OPENGAIT_GAITBERT_DISABLE"] = "1"
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "PICKLE SafePickle" in lines and "BUILT 80" in lines, result.stdout  # 4 train ids x 10 types x 2 views
    assert "LOAD REFUSED posix.system" in lines and "LIST REFUSED posix.system True" in lines, result.stdout
    assert "POINTERS REFUSED True" in lines and "ZERO STRIDES REFUSED True" in lines, result.stdout
    assert "FIFO LOAD REFUSED True" in lines and "FIFO LIST REFUSED True" in lines, result.stdout
    assert not marker.exists()
