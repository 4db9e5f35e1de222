"""Faults during a real OpenGait run: exact resume, non-finite loss, bad data, wrong class_num."""
import re
import pickle
import shutil

import numpy as np

from .conftest import demo_cfg, logged, run, write_cfg


def test_resume_reproduces_the_uninterrupted_loss_curve(opengait_root, synth_data, tmp_path):
    straight = tmp_path / "straight"
    code, lines = run("train", write_cfg(demo_cfg(synth_data, iters=6), straight), opengait_root, straight)
    assert code == 0, "\n".join(lines[-30:])
    expected = logged(lines, "gaitbert_loss")[3:]

    resumed = tmp_path / "resumed"
    cfg = write_cfg(demo_cfg(synth_data, iters=6, save_iter=3), resumed)
    code, lines = run("train", cfg, opengait_root, resumed, overrides=["trainer_cfg.total_iter=3"])
    assert code == 0, "\n".join(lines[-30:])
    code, lines = run("train", cfg, opengait_root, resumed, iteration=3)
    assert code == 0, "\n".join(lines[-30:])
    assert np.allclose(logged(lines, "gaitbert_loss"), expected, rtol=1e-4), (logged(lines, "gaitbert_loss"), expected)


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
    code, lines = run("train", write_cfg(demo_cfg(data, iters=2), tmp_path), opengait_root, tmp_path)
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
