"""Each shipped dataset config trains and tests through the launcher on its synthetic layout,
with OpenGait's own, unchanged evaluator for that dataset; bad data gets named errors.

Sizes are tiny (a few ids, 12-frame sequences, widths 8-16, 2 iterations): these tests
prove that config, layout, partition and evaluator fit together, not accuracy. Where the
evaluator's output is fixed by the layout alone (rank-20 of a 20-sequence gallery, rank-5
of a 5-sequence gallery, the gallery count), the test asserts it exactly.
"""
from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from opengait_gaitbert import config_path
from opengait_gaitbert.core.errors import ConfigError
from opengait_gaitbert.data import synth
from opengait_gaitbert.data.layouts import LAYOUTS, SUSTECH1K_SILHOUETTES
from opengait_gaitbert.launcher.run import launch

from .conftest import run, write_cfg

ITERS = 2
FRAMES = 12
# Per layout: walkers, training walkers, views. GREW needs 20 test ids (evaluate_real_scene's
# top 20), SUSTech1K 5 (its top 5 per view).
SIZES = {
    "oumvlp": dict(ids=6, train_ids=3, views=["000", "090"]),
    "grew": dict(ids=23, train_ids=3),
    "gait3d": dict(ids=7, train_ids=3),
    "sustech1k": dict(ids=8, train_ids=3, views=["000", "090"]),
}
TINY_MODEL = dict(channels=[4, 8, 8, 16], embed_dim=16)  # the shipped resnet9 encoder and conv context, narrow
SUSTECH1K_GROUPS = ("Normal", "Bag", "Clothing", "Carrying", "Umberalla", "Uniform", "Occlusion", "Night",
                    "Overall")  # OpenGait's spelling


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Layout name -> its synthetic data root, generated once per module on first use."""
    roots = {}

    def get(name: str, **extra) -> Path:
        key = (name, tuple(sorted(extra.items())))
        if key not in roots:
            out = tmp_path_factory.mktemp(name) / "data"
            synth.generate(out, seed=0, frames=FRAMES, progress=False, layout=name, **{**SIZES[name], **extra})
            roots[key] = out
        return roots[key]
    return get


def tiny_cfg(name: str, data: Path) -> dict:
    """The shipped config of ``name`` on ``data``: tiny widths and budget, CPU switches."""
    cfg = yaml.safe_load(config_path(LAYOUTS[name].config).read_text())
    cfg["data_cfg"].update(dataset_root=str(data), dataset_partition=str(data / "partition.json"), num_workers=0)
    cfg["model_cfg"].update(TINY_MODEL, class_num=SIZES[name]["train_ids"])
    cfg["trainer_cfg"].update(total_iter=ITERS, save_iter=ITERS, log_iter=1, sync_BN=False,
                              enable_float16=False, with_test=False)
    cfg["trainer_cfg"]["sampler"].update(batch_size=[2, 2], frames_num_min=4, frames_num_max=8)
    cfg["evaluator_cfg"].update(enable_float16=False, restore_hint=ITERS)
    cfg["evaluator_cfg"]["sampler"]["batch_size"] = 1
    return cfg


def train_then_test(name: str, data: Path, root: Path, workdir: Path, test_overrides=()):
    """Train ITERS iterations and test, both through the launcher on CPU; the test's output lines."""
    cfg = write_cfg(tiny_cfg(name, data), workdir)
    code, lines = run("train", cfg, root, workdir)
    assert code == 0, "\n".join(lines[-30:])
    assert any(f"Iteration {ITERS:0>5}" in line for line in lines)
    code, lines = run("test", cfg, root, workdir, overrides=test_overrides)
    assert code == 0, "\n".join(lines[-30:])
    return lines


def after_info(line: str) -> str:
    return line.split("[INFO]: ", 1)[-1]


def test_oumvlp_trains_and_tests_with_evaluate_indoor_dataset(opengait_root, synthetic, tmp_path):
    lines = train_then_test("oumvlp", synthetic("oumvlp"), opengait_root, tmp_path)
    per_view = [after_info(line) for line in lines if re.search(r"NM@R1: \[", line)]
    assert len(per_view) == 1 and len(per_view[0].split("[")[1].split()) == 2, per_view  # both views
    means = [float(v) for line in lines for v in re.findall(r"NM@R1: ([\d.]+)%", line)]
    assert len(means) == 1 and 0 <= means[0] <= 100, means
    print("OUMVLP evaluator:", [after_info(line) for line in lines if "NM@R1" in line])


def test_sustech1k_trains_and_tests_on_its_silhouettes(opengait_root, synthetic, tmp_path):
    lines = train_then_test("sustech1k", synthetic("sustech1k"), opengait_root, tmp_path)
    rank = {(group, int(r)): float(v) for line in lines
            for group, r, v in re.findall(r"(\w+)@R(\d): ([\d.]+)%", line)}
    assert {group for group, _ in rank} == set(SUSTECH1K_GROUPS)
    assert all(0 <= rank[(group, 1)] <= 100 for group in SUSTECH1K_GROUPS)
    # Each view's gallery is the 5 test ids' 00-nm: their top 5 hold every id, whatever the model.
    assert all(rank[(group, 5)] == 100.0 for group in SUSTECH1K_GROUPS), rank
    print("SUSTech1K evaluator:", [after_info(line) for line in lines if "@R1: " in line and "%" in line])


def test_gait3d_trains_and_tests_with_evaluate_gait3d(opengait_root, synthetic, tmp_path):
    data = synthetic("gait3d")
    # evaluate_Gait3D reads ./datasets/Gait3D/Gait3D.json from the working directory.
    fixed = tmp_path / LAYOUTS["gait3d"].evaluator_partition
    fixed.parent.mkdir(parents=True)
    shutil.copy(data / "partition.json", fixed)
    lines = train_then_test("gait3d", data, opengait_root, tmp_path)
    found = {key: float(value) for line in lines for key, value in
             re.findall(r"'scalar/test_accuracy/([\w-]+)': (?:np\.float\d+\()?([\d.]+)", line)}
    assert set(found) == {"Rank-1", "Rank-5", "Rank-10", "mAP", "mINP"}, found
    assert all(0 <= v <= 100 for v in found.values())
    probes = len(json.loads(fixed.read_text())["PROBE_SET"])
    test_ids = SIZES["gait3d"]["ids"] - SIZES["gait3d"]["train_ids"]
    gallery = test_ids * 4 - probes  # 4 sequences per id, one of each test id a probe
    assert any(f"number of gallery samples is quite small, got {gallery}" in line for line in lines)
    print("Gait3D evaluator:", found)


def test_grew_trains_then_writes_the_submission_and_evaluates_locally(opengait_root, synthetic, tmp_path):
    data = synthetic("grew")
    lines = train_then_test("grew", data, opengait_root, tmp_path)  # GREW_submission, the shipped eval_func
    saved = [line.split("GREW result saved to ", 1)[1].strip() for line in lines if "GREW result saved to" in line]
    assert len(saved) == 1, lines[-20:]
    with open(saved[0]) as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["videoId"] + [f"rank{k}" for k in range(1, 21)]
    probes = sorted(p.name for p in (data / "probe" / "03").iterdir())
    assert sorted(row[0] for row in rows[1:]) == probes  # one row per unlabelled probe, by video id
    test_ids = {int(i) for i in json.loads((data / "partition.json").read_text())["TEST_SET"] if i != "probe"}
    assert all(len(row) == 21 and {int(r) for r in row[1:]} <= test_ids for row in rows[1:])

    # Local evaluation on the same layout: gallery 01 (one per test id), probe 02.
    code, lines = run("test", tmp_path / "cfg.yaml", opengait_root, tmp_path,
                      overrides=["evaluator_cfg.eval_func=evaluate_real_scene"])
    assert code == 0, "\n".join(lines[-30:])
    messages = [after_info(line) for line in lines]
    ranks = {k: float(messages[messages.index(f"==Rank-{k}==") + 1]) for k in (1, 5, 10, 20)}
    assert 0 <= ranks[1] <= ranks[5] <= ranks[10] <= 100
    assert ranks[20] == 100.0  # the gallery is exactly the 20 test ids: every probe's id is in its top 20
    print("GREW evaluate_real_scene:", ranks, "submission rows:", len(rows) - 1)


def test_frame_size_that_does_not_fit_the_data_fails_at_the_first_batch(opengait_root, synthetic, tmp_path):
    data = synthetic("oumvlp", img_size=128)
    cfg = write_cfg(tiny_cfg("oumvlp", data), tmp_path)
    code, lines = run("train", cfg, opengait_root, tmp_path)
    assert code != 0
    errors = [line for line in lines if "ConfigError" in line]
    assert errors and "model_cfg.frame_size = [64, 44] but the data's frames are 128x128" in errors[-1]
    assert "Set model_cfg.frame_size: [128, 88]" in errors[-1] and "--img_size 64" in errors[-1]
    assert not any("Iteration 00001" in line for line in lines)
    # The fix the message names trains.
    code, lines = run("train", cfg, opengait_root, tmp_path / "fixed",
                      overrides=["model_cfg.frame_size=[128, 88]", "trainer_cfg.total_iter=1",
                                 "trainer_cfg.save_iter=1"])
    assert code == 0, "\n".join(lines[-30:])


def test_a_root_that_does_not_match_the_partition_lists_missing_ids(opengait_root, synthetic, tmp_path):
    cfg = tiny_cfg("gait3d", synthetic("gait3d"))
    cfg["data_cfg"]["dataset_partition"] = str(synthetic("oumvlp") / "partition.json")  # ids 00001..
    with pytest.raises(ConfigError, match=r"3 of the 3 TRAIN_SET ids .* have no folder in .* "
                                          r"\(missing: 00001, 00002, 00003\); the root holds 8 entries"):
        launch("train", str(write_cfg(cfg, tmp_path)), opengait=str(opengait_root), device="cpu",
               workdir=str(tmp_path))


def test_gait3d_without_its_partition_in_the_working_directory_is_refused(opengait_root, synthetic, tmp_path):
    cfg = write_cfg(tiny_cfg("gait3d", synthetic("gait3d")), tmp_path)
    with pytest.raises(ConfigError, match=r"evaluate_Gait3D.*datasets/Gait3D/Gait3D.json does not exist.*Copy"):
        launch("test", str(cfg), opengait=str(opengait_root), device="cpu", workdir=str(tmp_path))
    # The clone's own Gait3D.json names the real test ids, none of the synthetic ones.
    with pytest.raises(ConfigError, match=r"1000 of the 1000 PROBE_SET sequences .* are not of a TEST_SET id"):
        launch("test", str(cfg), opengait=str(opengait_root), device="cpu", workdir=str(opengait_root))


@pytest.mark.parametrize("name", list(SIZES))
def test_shipped_config_matches_opengaits_partition(opengait_root, name):
    layout = LAYOUTS[name]
    cfg = yaml.safe_load(config_path(layout.config).read_text())
    partition = json.loads((opengait_root / cfg["data_cfg"]["dataset_partition"]).read_text())
    assert cfg["model_cfg"]["class_num"] == len(partition["TRAIN_SET"])
    ids = partition["TRAIN_SET"] + [i for i in partition["TEST_SET"] if i not in layout.unlabelled_ids]
    synthetic_ids = synth_ids(layout)
    assert {len(i) for i in ids} == {len(i) for i in synthetic_ids}  # same id naming
    assert {i.endswith("train") for i in ids} == {i.endswith("train") for i in synthetic_ids}
    assert set(layout.unlabelled_ids) <= set(partition["TEST_SET"])
    if layout.evaluator_partition:
        assert all(len(p.split("-")) == 3 for p in partition["PROBE_SET"])  # id-type-view, as synth writes
    if layout.data_in_use:
        assert cfg["data_cfg"]["data_in_use"] == list(layout.data_in_use)
        assert cfg["data_cfg"]["data_in_use"].index(True) == SUSTECH1K_SILHOUETTES


def synth_ids(layout) -> list:
    plan = layout.plan(ids=25, train_ids=3, seed=0)
    return [i for i in plan.partition["TRAIN_SET"] + plan.partition["TEST_SET"] if i not in layout.unlabelled_ids]
