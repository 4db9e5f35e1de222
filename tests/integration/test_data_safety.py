"""Untrusted pkl files run no code in training or testing through a real OpenGait.

Each test puts a pickle whose unpickling would create a marker file where a
sequence belongs, and asserts the run is refused, naming the file and the way on,
and that the marker never appears: in the launcher before any process starts, in
OpenGait's own DataSet (a file swapped mid-run), and in a plain OpenGait import
protected by the startup hook, as ``opengait/main.py`` users run it.
"""
import json
import shutil
import socket
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from malicious import write_malicious_pkl
from opengait_gaitbert.core.errors import EXIT_USER_ERROR
from opengait_gaitbert.launcher import cli
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
    assert "[opengait-gaitbert] --trust-data: pkl files are loaded with plain pickle" in text
    assert "OPENGAIT_GAITBERT_TRUST_DATA=1 (--trust-data): pkl files are loaded with plain pickle" in text
    assert "safe pkl loading" not in text


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
    assert not marker.exists()
