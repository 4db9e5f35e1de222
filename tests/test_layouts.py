"""Dataset layouts, their synthetic stand-ins, the shipped dataset configs and the checks
that name a mismatch between config and data. No OpenGait needed: the evaluators' own
runs are in tests/integration/test_datasets.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from opengait_gaitbert import config_path
from opengait_gaitbert.core.config import validate_cfgs
from opengait_gaitbert.core.errors import ConfigError
from opengait_gaitbert.core.frames import check_input_frames
from opengait_gaitbert.data import synth
from opengait_gaitbert.data.layouts import (GAIT3D_SEQUENCES, GREW_PROBES, GREW_TRAIN_VIDEOS, LAYOUTS,
                                            OUMVLP_VIEWS, SUSTECH1K_FILES, SUSTECH1K_SILHOUETTES,
                                            SUSTECH1K_TYPES, covariate_of, get_layout)
from opengait_gaitbert.launcher import checkdata, cli
from opengait_gaitbert.launcher.preflight import preflight
from opengait_gaitbert.data.safe_pickle import load_stream

FRAMES = 6
DATASETS = ["oumvlp", "grew", "gait3d", "sustech1k"]
SMALL = {"oumvlp": dict(ids=3, train_ids=1, views="000,180"),
         "grew": dict(ids=22, train_ids=2),
         "gait3d": dict(ids=3, train_ids=1),
         "sustech1k": dict(ids=6, train_ids=1, views="000,090", types="00-nm,01-nm,01-bg")}


def load(path: Path):
    with open(path, "rb") as stream:
        return load_stream(stream, stream.name)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Layout name -> root of a small synthetic dataset written in it."""
    roots = {}
    for name, size in SMALL.items():
        root = tmp_path_factory.mktemp(name)
        synth.generate(root, frames=FRAMES, progress=False, layout=name, **size)
        roots[name] = root
    return roots


def sequence_folders(root: Path):
    return sorted(p.relative_to(root).parts for p in root.glob("*/*/*") if p.is_dir())


# -- layouts on disk ---------------------------------------------------------------------

def test_oumvlp_folders_are_five_digit_ids_walks_00_01_and_its_views(written):
    root = written["oumvlp"]
    assert sequence_folders(root) == [(f"{i:05d}", t, v) for i in (1, 2, 3) for t in ("00", "01")
                                      for v in ("000", "180")]
    assert [p.name for p in (root / "00002/01/180").iterdir()] == ["180.pkl"]
    assert json.loads((root / "partition.json").read_text()) == {"TRAIN_SET": ["00001"],
                                                                 "TEST_SET": ["00002", "00003"]}
    assert set(OUMVLP_VIEWS) == {f"{d:03d}" for d in [*range(0, 91, 15), *range(180, 271, 15)]}


def test_grew_folders_follow_rearrange_grew(written):
    root = written["grew"]
    part = json.loads((root / "partition.json").read_text())
    assert part["TRAIN_SET"] == ["00001train", "00002train"]
    assert part["TEST_SET"] == [f"{i:05d}" for i in range(1, 21)] + ["probe"]
    for label in part["TRAIN_SET"]:
        assert [p.name for p in (root / label).iterdir()] == ["00"]
        assert len(list((root / label / "00").iterdir())) == GREW_TRAIN_VIDEOS
    for label in part["TEST_SET"][:-1]:
        assert sorted(p.name for p in (root / label).iterdir()) == ["01", "02"]
        assert all(len(list((root / label / t).iterdir())) == 1 for t in ("01", "02"))
    assert [p.name for p in (root / "probe").iterdir()] == ["03"]
    videos = [view for _, _, view in sequence_folders(root)]
    assert len(list((root / "probe/03").iterdir())) == 20 * GREW_PROBES
    assert len(set(videos)) == len(videos)  # video ids are unique, so probes are told apart by them
    assert all(len(v) == 8 and v.isalnum() for v in videos)
    for _, _, view in sequence_folders(root)[:3]:
        assert list(root.glob(f"*/*/{view}/{view}.pkl"))


def test_grew_probes_are_walks_of_test_ids_not_of_training_ids():
    plan = get_layout("grew").plan(ids=22, train_ids=2, seed=0)
    walkers = {s.label: s.walker for s in plan.sequences if s.label != "probe"}
    probes = [s.walker for s in plan.sequences if s.label == "probe"]
    test_walkers = {w for label, w in walkers.items() if not label.endswith("train")}
    assert sorted(probes) == sorted(list(test_walkers) * GREW_PROBES)


def test_gait3d_folders_and_probe_set(written):
    root = written["gait3d"]
    part = json.loads((root / "partition.json").read_text())
    assert part["TRAIN_SET"] == ["0000"] and part["TEST_SET"] == ["0001", "0002"]
    folders = sequence_folders(root)
    assert len(folders) == 3 * GAIT3D_SEQUENCES
    assert all(t.startswith("camid") and "_videoid" in t and v.startswith("seq") for _, t, v in folders)
    # One probe per test id, each an existing sequence, named id-type-view as evaluate_Gait3D joins them.
    assert len(part["PROBE_SET"]) == 2
    assert all(tuple(p.split("-")) in folders for p in part["PROBE_SET"])
    assert {p.split("-")[0] for p in part["PROBE_SET"]} == set(part["TEST_SET"])


def test_sustech1k_folders_hold_sixteen_modalities_in_data_in_use_order(written):
    root = written["sustech1k"]
    assert sequence_folders(root)[:3] == [("0000", "00-nm", "000"), ("0000", "00-nm", "090"),
                                          ("0000", "01-bg", "000")]
    names = sorted(p.name for p in (root / "0002/01-bg/090").iterdir())  # OpenGait sorts, then indexes
    assert names == [name.format(view="090") for name, _, _ in SUSTECH1K_FILES]
    silhouettes = load(root / "0002/01-bg/090" / names[SUSTECH1K_SILHOUETTES])
    assert names[SUSTECH1K_SILHOUETTES] == "06-090-Camera-Sils_aligned.pkl"
    assert silhouettes.shape == (FRAMES, 64, 64) and silhouettes.dtype == np.uint8
    lidar = load(root / "0002/01-bg/090/02-090-LiDAR-PCDs_sils.pkl")
    assert lidar.shape == (FRAMES // 3, 64, 64)  # 10 Hz against the camera's 30
    assert load(root / "0002/01-bg/090/05-090-Camera-RGB_raw.pkl").shape == (FRAMES, 3, 64, 64)
    points = load(root / "0002/01-bg/090/00-090-LiDAR-PCDs.pkl")
    assert isinstance(points, list) and len(points) == FRAMES // 3 and points[0].shape[1] == 3  # [N, xyz]


def test_sustech1k_types_fall_into_every_evaluator_group():
    # evaluate_indoor_dataset's SUSTech1K groups: substrings of the type names.
    groups = {"Normal": ["01-nm"], "Bag": ["bg"], "Clothing": ["cl"], "Carrying": ["cr"], "Umbrella": ["ub"],
              "Uniform": ["uf"], "Occlusion": ["oc"], "Night": ["nt"], "Overall": ["01", "02", "03", "04"]}
    for group, parts in groups.items():
        assert any(p in t for p in parts for t in SUSTECH1K_TYPES if t != "00-nm"), group
    assert [t for t in SUSTECH1K_TYPES if "00-nm" in t] == ["00-nm"]  # the gallery


def test_covariates_follow_the_type_name():
    assert [covariate_of(t) for t in ("nm-01", "bg-02", "cl-01", "01-cr", "01-cl", "01-ub", "00")] == \
        ["nm", "bg", "cl", "bg", "cl", "nm", "nm"]


def test_casiab_is_the_default_layout_and_unchanged(tmp_path):
    synth.generate(tmp_path, ids=2, frames=3, views="090", types="cl-02", progress=False)
    np.testing.assert_array_equal(load(tmp_path / "002/cl-02/090/090.pkl"),
                                  synth.synth_sequence(0, 2, "cl-02", "090", 3))


def test_img_size_128_writes_128_pixel_frames(tmp_path):
    synth.generate(tmp_path, ids=2, frames=3, views="000,090", progress=False, layout="oumvlp", img_size=128)
    seq = load(tmp_path / "00001/00/090/090.pkl")
    assert seq.shape == (3, 128, 128) and seq.dtype == np.uint8 and seq.max() == 255


@pytest.mark.parametrize("name, kwargs, message", [
    ("grew", dict(ids=20, train_ids=2), "18 test id.*at least 20.*top 20"),
    ("sustech1k", dict(ids=5, train_ids=1, views="000,090"), "4 test id.*at least 5"),
    ("grew", dict(ids=22, train_ids=2, views="090"), "--views.*not camera angles"),
    ("gait3d", dict(ids=3, types="nm-01"), "--types.*leave --types out"),
    ("oumvlp", dict(ids=3, views="000,050"), "'050' is not a OUMVLP view"),
    ("oumvlp", dict(ids=3, views="090"), "at least 2 views"),
    ("oumvlp", dict(ids=3, types="02"), "unknown type '02'.*00, 01"),
    ("sustech1k", dict(ids=6, types="01-bag", views="000,090"), "unknown type '01-bag'. Did you mean '01-bg'"),
    ("oumvlp", dict(ids=3, img_size=96), "64 or 128"),
])
def test_bad_layout_arguments_raise(tmp_path, name, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        synth.generate(tmp_path, frames=2, progress=False, layout=name, **kwargs)
    assert not list(tmp_path.iterdir())  # refused before writing anything


def test_cli_synth_layout(tmp_path, capsys):
    out = tmp_path / "g3d"
    assert cli.main(["synth", "--layout", "gait3d", "--out", str(out), "--ids", "3", "--frames", "2",
                     "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Gait3D-layout" in printed and "datasets/Gait3D/Gait3D.json" in printed and "--workdir" in printed
    assert "PROBE_SET" in json.loads((out / "partition.json").read_text())
    with pytest.raises(SystemExit) as exited:  # argparse's own usage error
        cli.main(["synth", "--layout", "gait3", "--out", str(out)])
    assert exited.value.code == 2 and "invalid choice: 'gait3'" in capsys.readouterr().err


# -- the shipped configs -----------------------------------------------------------------

def shipped(name: str) -> dict:
    return yaml.safe_load(config_path(LAYOUTS[name].config).read_text())


@pytest.mark.parametrize("name", DATASETS)
def test_shipped_config_validates_and_names_its_dataset(name):
    layout, cfg = LAYOUTS[name], shipped(name)
    validate_cfgs(cfg, training=True, source=layout.config)
    validate_cfgs(cfg, training=False, source=layout.config)
    data = cfg["data_cfg"]
    assert data["dataset_name"] == data["test_dataset_name"] == layout.dataset_name
    assert data["dataset_partition"] == layout.partition
    assert cfg["evaluator_cfg"]["eval_func"] == layout.evaluators[0]
    assert data.get("data_in_use") == (list(layout.data_in_use) if layout.data_in_use else None)
    trainer = cfg["trainer_cfg"]
    assert trainer["total_iter"] % trainer["save_iter"] == 0  # the test restores restore_hint
    assert cfg["evaluator_cfg"]["restore_hint"] == trainer["total_iter"]
    assert all(m < trainer["total_iter"] for m in cfg["scheduler_cfg"]["milestones"])


@pytest.mark.parametrize("name", DATASETS)
def test_shipped_config_keeps_the_casiab_quality_defaults(name):
    cfg, casiab = shipped(name), yaml.safe_load(config_path("gaitbert_casiab.yaml").read_text())
    assert {k: v for k, v in cfg["model_cfg"].items() if k != "class_num"} == \
        {k: v for k, v in casiab["model_cfg"].items() if k != "class_num"}
    assert cfg["trainer_cfg"]["transform"] == casiab["trainer_cfg"]["transform"]
    assert cfg["loss_cfg"] == casiab["loss_cfg"]
    sampler = cfg["trainer_cfg"]["sampler"]
    assert sampler["sample_type"] == "unfixed_ordered" and sampler["frames_skip_num"] == 0
    assert sampler["frames_num_min"] == casiab["trainer_cfg"]["sampler"]["frames_num_min"]
    assert cfg["evaluator_cfg"]["transform"] == [{"type": "BaseSilCuttingTransform"}]


@pytest.mark.parametrize("name", DATASETS)
def test_shipped_frame_size_fits_the_layouts_pkl(name, written):
    cfg = shipped(name)
    layout = LAYOUTS[name]
    folder = next(p for p in written[name].glob("*/*/*") if p.is_dir())
    names = checkdata.selected_files([p.name for p in folder.iterdir()], cfg["data_cfg"].get("data_in_use"))
    batch = [load(folder / n)[None] for n in names]  # [1, T, H, W], as OpenGait collates
    check_input_frames(batch, cfg["model_cfg"]["frame_size"], layout.config)
    with pytest.raises(ConfigError, match=r"frame_size = \[64, 44\].*128x128.*\[128, 88\]"):
        check_input_frames([np.zeros((1, 3, 128, 128), np.uint8)], cfg["model_cfg"]["frame_size"], layout.config)


# -- the first-batch check ---------------------------------------------------------------

@pytest.mark.parametrize("features, message", [
    ([np.zeros((1, 9, 64, 64), np.uint8)] * 2, "data_in_use selects 2 files"),
    ([np.zeros((1, 9, 3, 64, 64), np.uint8)], r"batch of shape \(1, 9, 3, 64, 64\).*data_in_use"),
    ([np.zeros((2, 9, 17, 3))], "float64 values.*data_in_use"),
    ([np.array([np.zeros((5, 3)), np.zeros((7, 3))], dtype=object)], "varying shape.*data_in_use"),
    ([np.zeros((2, 9, 128, 128), np.uint8)], r"cfg.yaml: model_cfg.frame_size = \[64, 44\].*"
                                             r"128x128.*Set model_cfg.frame_size: \[128, 88\].*--img_size 64"),
    ([np.zeros((2, 9, 48, 48), np.uint8)], r"frame_size: \[48, 33\]"),
    ([np.zeros((2, 9, 50, 50), np.uint8)], r"frame_size: \[50, <the width after the transform>\]"),
])
def test_first_batch_check_names_the_key_and_the_fix(features, message):
    with pytest.raises(ConfigError, match=message):
        check_input_frames(features, [64, 44], "cfg.yaml")


@pytest.mark.parametrize("height,frame_size", [(64, [64, 44]), (128, [128, 88])])
def test_first_batch_check_passes_silhouettes_of_the_right_height(height, frame_size):
    """Frames of the configured height pass (the width is cut later); the same batch one row
    taller is refused, so the height is what the check decides on."""
    check_input_frames([np.zeros((1, 40, height, 64), np.uint8)], frame_size, "cfg.yaml")
    with pytest.raises(ConfigError, match="frame_size"):
        check_input_frames([np.zeros((1, 40, height + 1, 64), np.uint8)], frame_size, "cfg.yaml")


# -- check-data and the launcher's preflight on these layouts ---------------------------

def test_check_data_reads_only_the_files_data_in_use_selects(written):
    root = written["sustech1k"]
    everything = checkdata.check_dataset(root, root / "partition.json")
    assert everything.problems and not any(Path(where).name.startswith(("06-", "14-sync"))
                                           for where, _ in everything.problems)  # all but the silhouettes
    silhouettes = checkdata.check_dataset(root, root / "partition.json", LAYOUTS["sustech1k"].data_in_use)
    assert silhouettes.problems == [] and silhouettes.sequences == len(sequence_folders(root))
    by_position = checkdata.check_dataset(root, root / "partition.json", [SUSTECH1K_SILHOUETTES, 14])
    assert by_position.problems == [] and by_position.sequences == 2 * len(sequence_folders(root))


def test_check_data_takes_data_in_use_and_frame_size_from_the_config(written, tmp_path, capsys):
    root = written["sustech1k"]
    cfg = shipped("sustech1k")
    cfg["data_cfg"].update(dataset_root=str(root), dataset_partition=str(root / "partition.json"))
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert cli.main(["check-data", "--cfgs", str(path)]) == 0
    assert "0 problem(s)" in capsys.readouterr().out
    cfg["model_cfg"]["frame_size"] = [128, 88]
    path.write_text(yaml.safe_dump(cfg))
    assert cli.main(["check-data", "--cfgs", str(path)]) == 2
    assert "frames are 64x64, expected 128x128" in capsys.readouterr().out


def cpu_cfg(name: str, root: Path) -> dict:
    """The shipped config on ``root`` with the CPU switches, as the launcher sees it."""
    cfg = shipped(name)
    cfg["data_cfg"].update(dataset_root=str(root), dataset_partition=str(root / "partition.json"))
    cfg["trainer_cfg"].update(sync_BN=False, enable_float16=False, with_test=False)
    cfg["evaluator_cfg"].update(enable_float16=False, restore_hint=0)
    cfg["evaluator_cfg"]["sampler"]["batch_size"] = 1
    return cfg


def check(cfg: dict, workdir: Path, phase: str = "train") -> None:
    preflight(cfg, "cfg.yaml", phase, "cpu", 1, workdir)


def test_preflight_accepts_each_layout_with_its_config(written, tmp_path):
    """Each layout passes the train and test checks with its own config, and the same config
    over an empty folder does not: what passes is this layout's data on disk."""
    for name in DATASETS:
        cfg = cpu_cfg(name, written[name])
        check(cfg, tmp_path)
        if LAYOUTS[name].evaluator_partition:
            fixed = tmp_path / LAYOUTS[name].evaluator_partition
            fixed.parent.mkdir(parents=True)
            fixed.write_text((written[name] / "partition.json").read_text())
        check(cfg, tmp_path, "test")
        (tmp_path / f"empty-{name}").mkdir()
        cfg["data_cfg"]["dataset_root"] = str(tmp_path / f"empty-{name}")
        with pytest.raises(ConfigError, match="data_cfg.dataset_root does not match"):
            check(cfg, tmp_path)


def test_preflight_lists_partition_ids_missing_from_the_root(written, tmp_path):
    cfg = cpu_cfg("gait3d", written["gait3d"])
    cfg["data_cfg"]["dataset_partition"] = str(written["oumvlp"] / "partition.json")
    with pytest.raises(ConfigError, match=r"cfg.yaml: data_cfg.dataset_root does not match "
                                          r"data_cfg.dataset_partition: 1 of the 1 TRAIN_SET ids .* \(missing: "
                                          r"00001\); the root holds 4 entries \(e.g. 0000, 0001, 0002, "
                                          r"partition.json\)"):
        check(cfg, tmp_path)


def test_preflight_suggests_the_folder_that_holds_the_ids(written, tmp_path):
    nested = tmp_path / "release"
    (nested / "pkl").mkdir(parents=True)
    for item in written["oumvlp"].iterdir():
        (nested / "pkl" / item.name).symlink_to(item)
    cfg = cpu_cfg("oumvlp", nested)
    cfg["data_cfg"]["dataset_partition"] = str(written["oumvlp"] / "partition.json")
    with pytest.raises(ConfigError, match=f"missing: 00001\\).*Did you mean dataset_root: {nested / 'pkl'}\\?"):
        check(cfg, tmp_path)
    cfg["data_cfg"]["dataset_root"] = str(nested / "pkl")
    check(cfg, tmp_path)


def test_preflight_checks_test_ids_only_when_testing(written, tmp_path):
    root = tmp_path / "partial"
    root.mkdir()
    (root / "00001").symlink_to(written["oumvlp"] / "00001")  # the training id only
    cfg = cpu_cfg("oumvlp", root)
    cfg["data_cfg"]["dataset_partition"] = str(written["oumvlp"] / "partition.json")
    check(cfg, tmp_path)
    with pytest.raises(ConfigError, match=r"2 of the 2 TEST_SET ids .*missing: 00002, 00003"):
        check(cfg, tmp_path, "test")


def test_preflight_refuses_too_few_test_ids_for_the_evaluators_ranks(written, tmp_path):
    root = written["grew"]
    split = json.loads((root / "partition.json").read_text())
    partition = tmp_path / "few.json"
    partition.write_text(json.dumps({"TRAIN_SET": split["TRAIN_SET"], "TEST_SET": split["TEST_SET"][:12] + ["probe"]}))
    cfg = cpu_cfg("grew", root)
    cfg["data_cfg"]["dataset_partition"] = str(partition)
    check(cfg, tmp_path, "test")  # GREW_submission: 12 ids, 24 gallery sequences, enough for its top 20
    cfg["evaluator_cfg"]["eval_func"] = "evaluate_real_scene"
    with pytest.raises(ConfigError, match="has 12 test ids, but evaluator_cfg.eval_func = evaluate_real_scene "
                                          "needs at least 20"):
        check(cfg, tmp_path, "test")


def test_preflight_checks_the_partition_evaluate_gait3d_reads(written, tmp_path):
    cfg = cpu_cfg("gait3d", written["gait3d"])
    with pytest.raises(ConfigError, match=r"evaluate_Gait3D: .*datasets/Gait3D/Gait3D.json does not exist; "
                                          r"OpenGait's evaluate_Gait3D reads its PROBE_SET from "
                                          r"./datasets/Gait3D/Gait3D.json in the working directory"):
        check(cfg, tmp_path, "test")
    fixed = tmp_path / "datasets/Gait3D/Gait3D.json"
    fixed.parent.mkdir(parents=True)
    fixed.write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": ["0001"], "PROBE_SET": ["0009-camid1_videoid1-seq0"]}))
    with pytest.raises(ConfigError, match=r"1 of the 1 PROBE_SET sequences .* are not of a TEST_SET id .*"
                                          r"0009-camid1_videoid1-seq0"):
        check(cfg, tmp_path, "test")
    check(cfg, tmp_path)  # training alone never reads it
