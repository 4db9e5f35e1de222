"""Faults during a real OpenGait run: exact resume (world size 1 and 2, also after a SIGKILL of the
whole run), damaged checkpoints, another world size, non-finite loss, bad data, wrong class_num."""
import os
import random
import re
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from opengait_gaitbert.core.training_state import CheckpointError
from opengait_gaitbert.launcher import preflight
from opengait_gaitbert.launcher.run import launch

from .conftest import demo_cfg, logged_by_iteration, run, with_pretraining, write_cfg

CKPT = "output/CASIA-B/GaitBERT/GaitBERT_demo/checkpoints/GaitBERT_demo-{:05d}.pt"
ITERATION_KEYS = ("gaitbert_reconstruction", "gaitbert_triplet", "gaitbert_loss_num", "gaitbert_loss",
                  "softmax_loss", "softmax_accuracy")


def descendants(pid: int):
    """Every process started (transitively) by ``pid``: torchrun puts its workers in their own sessions."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def assert_same_training_state(a, b):
    """Two checkpoints hold bit-identical weights, optimizer and scheduler states."""
    a, b = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    assert a["iteration"] == b["iteration"]
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    for index, slot in a["optimizer"]["state"].items():
        for key, value in slot.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(b["optimizer"]["state"][index][key])), key
    assert a["scheduler"] == b["scheduler"]


@pytest.fixture(scope="module")
def straight_two(opengait_root, synth_data, tmp_path_factory):
    """The uninterrupted 6-iteration run at world size 2 (checkpoints at 3 and 6) and its logged values."""
    folder = tmp_path_factory.mktemp("straight2")
    cfg = write_cfg(demo_cfg(synth_data, iters=6, nproc=2, save_iter=3), folder)
    code, lines = run("train", cfg, opengait_root, folder, nproc=2)
    assert code == 0, "\n".join(lines[-30:])
    return folder, {key: logged_by_iteration(lines, key) for key in ITERATION_KEYS}


def resume_from(straight: Path, folder: Path, iteration: int) -> None:
    """``folder`` as an interrupted copy of the run in ``straight``: its output up to ``iteration``."""
    shutil.copytree(straight / "output", folder / "output")
    for ckpt in (folder / CKPT).parent.glob("*.pt"):
        if int(ckpt.stem.rsplit("-", 1)[1]) > iteration:
            ckpt.unlink()


def test_resume_on_either_side_of_the_phase_boundary_reproduces_the_uninterrupted_run(opengait_root, synth_data,
                                                                                       tmp_path):
    """10 iterations, the first 3 masked-frame pretraining: resumed from iteration 2 (crossing the
    boundary) and from 4 (fine-tuning), every logged loss and the final weights are the uninterrupted run's."""
    straight = tmp_path / "straight"
    cfg = with_pretraining(demo_cfg(synth_data, iters=10, save_iter=2))
    code, lines = run("train", write_cfg(cfg, straight), opengait_root, straight)
    assert code == 0, "\n".join(lines[-30:])
    assert any("iteration 1: masked-frame pretraining without labels, iterations 1-3 of 10" in line for line in lines)
    assert any("iteration 4: fine-tuning on identities, iterations 4-10 (after 3 of masked-frame pretraining)" in line
               for line in lines)
    expected = logged_by_iteration(lines, "gaitbert_loss")
    assert len(expected) == 10 and len(logged_by_iteration(lines, "gaitbert_reconstruction")) == 3
    for iteration in (2, 4):
        resumed = tmp_path / f"resumed{iteration}"
        resume_from(straight, resumed, iteration)
        code, lines = run("train", write_cfg(cfg, resumed), opengait_root, resumed, iteration=iteration)
        assert code == 0, "\n".join(lines[-30:])
        got = logged_by_iteration(lines, "gaitbert_loss")
        assert got == {i: v for i, v in expected.items() if i > iteration}, iteration  # every logged digit
        assert_same_training_state(resumed / CKPT.format(10), straight / CKPT.format(10))


def test_non_finite_loss_stops_with_iteration_terms_and_batch(opengait_root, synth_data, tmp_path):
    cfg = demo_cfg(synth_data, iters=30)
    cfg["optimizer_cfg"] = {"solver": "SGD", "lr": 1.0e+30, "momentum": 0.9}
    code, lines = run("train", write_cfg(cfg, tmp_path), opengait_root, tmp_path)
    text = "\n".join(lines)
    assert code != 0
    assert "NonFiniteLossError: iteration" in text and "terms: {" in text and "batch: " in text


def test_bad_sequence_is_named(opengait_root, synth_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(synth_data, data)
    for pkl in (data / "001").glob("*/*/*.pkl"):  # every sequence of a training id: always sampled
        pickle.dump(np.zeros((30, 64, 64), np.uint8), open(pkl, "wb"))
    code, lines = run("train", write_cfg(with_pretraining(demo_cfg(data, iters=2)), tmp_path), opengait_root, tmp_path)
    text = "\n".join(lines)
    assert code != 0
    assert re.search(r"DataError: MaskedFrameSampler: all \d+ frames are background", text)  # clip length varies
    assert "Sequence: id CASIA-B-001, type" in text and "check-data" in text


def test_class_num_must_match_the_training_ids(opengait_root, synth_data, tmp_path):
    cfg = demo_cfg(synth_data, iters=2)
    cfg["model_cfg"]["class_num"] = 74
    code, lines = run("train", write_cfg(cfg, tmp_path), opengait_root, tmp_path)
    assert code != 0
    assert any("model_cfg.class_num = 74 but the training set has 4 ids" in line for line in lines)


def test_resume_at_world_size_two_is_exact(opengait_root, synth_data, straight_two, tmp_path):
    """Every rank gets its own random state back: the same losses after --iter 3 and the same final weights."""
    straight, expected = straight_two
    checkpoint = torch.load(straight / CKPT.format(3), weights_only=True)
    cfg = write_cfg(demo_cfg(synth_data, iters=6, nproc=2, save_iter=3), tmp_path)
    assert checkpoint["model_cfg"] == yaml.safe_load(Path(cfg).read_text())["model_cfg"]  # what the tools read back
    saved = checkpoint["rng"]
    assert saved["world_size"] == 2 and not torch.equal(saved["ranks"][0]["torch"], saved["ranks"][1]["torch"])
    resume_from(straight, tmp_path, 3)
    code, lines = run("train", cfg, opengait_root, tmp_path, nproc=2, iteration=3)
    assert code == 0, "\n".join(lines[-30:])
    for key in ITERATION_KEYS:
        assert logged_by_iteration(lines, key) == {i: v for i, v in expected[key].items() if i > 3}, key
    assert_same_training_state(tmp_path / CKPT.format(6), straight / CKPT.format(6))


def test_sigkill_of_the_whole_run_then_resume_gives_the_uninterrupted_weights(
        opengait_root, synth_data, straight_two, tmp_path):
    straight, _ = straight_two
    cfg = write_cfg(demo_cfg(synth_data, iters=6, nproc=2, save_iter=3), tmp_path)
    script = (f"from opengait_gaitbert.launcher.run import launch; launch('train', {str(cfg)!r}, "
              f"opengait={str(opengait_root)!r}, device='cpu', nproc=2, workdir={str(tmp_path)!r})")
    env = dict(os.environ, GAITBERT_FAULT_STALL="*:5:120")  # both ranks hold in iteration 5: the kill lands mid-run
    launcher = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    try:
        for line in launcher.stdout:
            if "fault drill" in line:
                break
        time.sleep(0.5)  # the other rank reaches its drill too
        processes = [launcher.pid, *descendants(launcher.pid)]
        assert len(processes) >= 4, processes  # launcher, torchrun, 2 workers
        for pid in processes:  # the whole run, as a power cut or the OOM killer would
            os.kill(pid, signal.SIGKILL)
    finally:
        launcher.kill()
        launcher.wait()
    assert (tmp_path / CKPT.format(3)).is_file() and not (tmp_path / CKPT.format(6)).exists()
    code, lines = run("train", cfg, opengait_root, tmp_path, nproc=2, iteration=3)
    assert code == 0, "\n".join(lines[-30:])
    assert_same_training_state(tmp_path / CKPT.format(6), straight / CKPT.format(6))


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_checkpoint_is_named_and_the_previous_one_still_resumes(
        opengait_root, synth_data, straight_two, tmp_path, damage):
    straight, _ = straight_two
    shutil.copytree(straight / "output", tmp_path / "output")
    cfg = write_cfg(demo_cfg(synth_data, iters=6, nproc=2, save_iter=3), tmp_path)
    bad = tmp_path / CKPT.format(6)
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncated" else data[:100] + random.Random(0).randbytes(len(data) - 100))
    with pytest.raises(CheckpointError, match=r"GaitBERT_demo-00006\.pt: cannot be read .*truncated or corrupt.*"
                                              r"--iter 3 \(.*GaitBERT_demo-00003\.pt\)"):
        launch("train", str(cfg), opengait=str(opengait_root), device="cpu", nproc=2, workdir=str(tmp_path),
               iteration=6)
    if damage == "truncated":  # the suggested way on works: resume from iteration 3 and finish
        code, lines = run("train", cfg, opengait_root, tmp_path, nproc=2, iteration=3)
        assert code == 0, "\n".join(lines[-30:])
        assert_same_training_state(tmp_path / CKPT.format(6), straight / CKPT.format(6))


def test_resume_at_another_world_size_is_refused_with_the_way_on(opengait_root, synth_data, straight_two, tmp_path):
    straight, _ = straight_two
    cfg = write_cfg(demo_cfg(synth_data, iters=9, nproc=1, save_iter=3), tmp_path)
    with pytest.raises(CheckpointError, match=r"GaitBERT_demo-00003\.pt: saved by 2 process\(es\), this run has 1.*"
                                              r"--nproc 2.*--allow-world-size-change"):
        launch("train", str(cfg), opengait=str(opengait_root), device="cpu", nproc=1, workdir=str(straight),
               iteration=3)
    # Allowed on request (approximate resume): the same check passes.
    preflight.check_checkpoint(straight / CKPT.format(3), True, 1, allow_world_size_change=True)
