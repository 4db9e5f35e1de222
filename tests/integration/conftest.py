"""Integration fixtures: a real OpenGait clone (``OPENGAIT_ROOT``) and small generated data.

Every test here skips, printing why, when ``OPENGAIT_ROOT`` is unset or is not a clone.
"""
import os
import threading
import time
from pathlib import Path

import pytest
import yaml

from opengait_gaitbert import config_path
from opengait_gaitbert.data import synth
from opengait_gaitbert.launcher.locate import OpenGaitNotFound, check_clone
from opengait_gaitbert.launcher.run import launch
from tiny_model import with_pretraining  # noqa: F401 (the integration tests import it from here)


@pytest.fixture(scope="session")
def opengait_root() -> Path:
    root = os.environ.get("OPENGAIT_ROOT")
    if not root:
        pytest.skip("OPENGAIT_ROOT is not set; integration tests need an OpenGait clone "
                    "(git clone https://github.com/ShiqiYu/OpenGait; export OPENGAIT_ROOT=$PWD/OpenGait)")
    try:
        return check_clone(Path(root), "OPENGAIT_ROOT")
    except OpenGaitNotFound as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    """8 ids (4 train, 4 test), 2 views, 30 frames: the CASIA-B protocol in miniature."""
    out = tmp_path_factory.mktemp("synth")
    synth.generate(out / "data", ids=8, seed=0, frames=30, views=["000", "090"], progress=False)
    return out / "data"


def demo_cfg(data: Path, iters: int = 10, nproc: int = 1, **trainer) -> dict:
    """The shipped demo config on ``data``, with a small budget."""
    cfg = yaml.safe_load(config_path("gaitbert_demo.yaml").read_text())
    cfg["data_cfg"].update(dataset_root=str(data), dataset_partition=str(data / "partition.json"))
    cfg["model_cfg"]["class_num"] = 4
    cfg["trainer_cfg"].update({"total_iter": iters, "save_iter": iters, "log_iter": 1, **trainer})
    cfg["evaluator_cfg"].update(restore_hint=iters)
    cfg["evaluator_cfg"]["sampler"]["batch_size"] = nproc
    return cfg


def write_cfg(cfg: dict, folder: Path, name: str = "cfg.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run(phase, cfg_file, root, workdir, nproc=1, iteration=0, overrides=()):
    """Launch on CPU; returns (exit code, output lines)."""
    lines = []
    code = launch(phase, str(cfg_file), opengait=str(root), device="cpu", nproc=nproc,
                  workdir=str(workdir), iteration=iteration, overrides=overrides, output=lines)
    return code, lines


def logged(lines, key):
    """Values of ``key=...`` in OpenGait's iteration log lines, in order."""
    values = []
    for line in lines:
        if "Iteration" in line and f"{key}=" in line:
            values.append(float(line.split(f"{key}=")[1].split(",")[0]))
    return values


def logged_by_iteration(lines, key):
    """``{iteration: value}`` of ``key=...`` in OpenGait's iteration log lines: a phase logs its own keys."""
    values = {}
    for line in lines:
        if "Iteration " in line and f"{key}=" in line:
            values[int(line.split("Iteration ")[1][:5])] = float(line.split(f"{key}=")[1].split(",")[0])
    return values


def train_in_background_until_iteration_1(cfg_file: Path, root: Path, workdir: Path, deadline_s: float = 180):
    """Start a launcher training in a thread and return once it logged its first iteration (or ended,
    or ``deadline_s`` passed): ``(thread, lines, result)``, ``result["code"]`` set when it ends.
    For faults injected into a running training: its files are listed and its workers are up."""
    lines, result = [], {}

    def train():
        result["code"] = launch("train", str(cfg_file), opengait=str(root), device="cpu", workdir=str(workdir),
                                output=lines)

    runner = threading.Thread(target=train)
    runner.start()
    deadline = time.time() + deadline_s
    while not any("Iteration 00001" in line for line in lines) and runner.is_alive() and time.time() < deadline:
        time.sleep(0.05)
    return runner, lines, result
