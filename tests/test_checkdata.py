"""``check-data`` lists every unreadable or malformed pkl and every partition id without data."""
import argparse
import json
import operator
import pickle

import numpy as np
import pytest

from opengait_gaitbert.core.errors import EXIT_USER_ERROR
from opengait_gaitbert.launcher import checkdata, cli


def write_pkl(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as stream:
        pickle.dump(obj, stream)


def test_every_problem_is_listed(tmp_path, capsys):
    root = tmp_path / "data"
    good = np.full((10, 64, 64), 255, np.uint8)
    write_pkl(root / "001/nm-01/000/000.pkl", good)
    write_pkl(root / "001/nm-02/000/000.pkl", np.zeros((10, 64, 64), np.uint8))
    write_pkl(root / "002/nm-01/000/000.pkl", good.astype(np.float32))
    write_pkl(root / "002/nm-02/000/000.pkl", good[:, :, :44])
    write_pkl(root / "002/nm-03/000/000.pkl", good[:0])
    write_pkl(root / "002/nm-04/000/000.pkl", good[0])
    write_pkl(root / "002/nm-05/000/000.pkl", [1, 2, 3])
    (root / "002/nm-06/000").mkdir(parents=True)
    (root / "002/nm-06/000/000.pkl").write_bytes(b"not a pickle")
    partition = tmp_path / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": ["001", "002"], "TEST_SET": ["003"]}))

    report = checkdata.check_dataset(root, partition)
    reasons = {str(path).split("data/")[-1]: reason for path, reason in report.problems}
    assert report.sequences == 8
    expected = {
        "001/nm-02/000/000.pkl": "all frames are background (all zero); remove it or re-create it",
        "002/nm-01/000/000.pkl": "dtype float32, expected uint8 (0..255); re-create it",
        "002/nm-02/000/000.pkl": "frames are 64x44, expected 64x64 (the config's frame size)",
        "002/nm-03/000/000.pkl": "empty sequence (0 frames): a gait sequence needs frames over time",
        "002/nm-04/000/000.pkl": "shape (64, 64): expected [T, h, w]",
        "002/nm-05/000/000.pkl": "holds a list, not a numpy array",
        "002/nm-06/000/000.pkl": "unreadable (",
        "id 003": f"in the partition but no such folder ({root / '003'}); add its data or remove the id",
    }
    assert sorted(reasons) == sorted(expected)
    for where, start in expected.items():
        assert reasons[where].startswith(start), where
    assert "pretreat" in reasons["002/nm-01/000/000.pkl"]  # each names the fix

    args = argparse.Namespace(cfgs=None, root=str(root), partition=str(partition))
    assert checkdata.main(args) == EXIT_USER_ERROR
    assert "checked 8 pkl file(s): 8 problem(s)" in capsys.readouterr().out


def test_clean_dataset_passes(tmp_path, capsys):
    from opengait_gaitbert.data import synth
    partition = synth.generate(tmp_path / "data", ids=2, frames=5, views=["000", "090"], progress=False)
    args = argparse.Namespace(cfgs=None, root=str(tmp_path / "data"), partition=str(partition))
    assert checkdata.main(args) == 0
    assert "0 problem(s)" in capsys.readouterr().out


def test_missing_root_is_a_clear_exit(tmp_path, capsys):
    code = cli.main(["check-data", "--root", str(tmp_path / "nope"), "--partition", str(tmp_path / "p.json")])
    assert code == EXIT_USER_ERROR
    assert f"check-data: error: dataset root {tmp_path / 'nope'} is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["[not: yaml", "- a list\n"])
def test_unreadable_cfgs_is_a_clear_exit(tmp_path, capsys, text):
    cfgs = tmp_path / "bad.yaml"
    cfgs.write_text(text)
    assert cli.main(["check-data", "--cfgs", str(cfgs)]) == EXIT_USER_ERROR
    assert f"--cfgs {cfgs}" in capsys.readouterr().err


@pytest.mark.parametrize("content", ['["001"]', '{"TRAIN_SET": "001", "TEST_SET": null}', "not json"])
def test_malformed_partition_is_listed(tmp_path, content):
    root = tmp_path / "data"
    write_pkl(root / "001/nm-01/000/000.pkl", np.full((10, 64, 64), 255, np.uint8))
    partition = tmp_path / "partition.json"
    partition.write_text(content)
    report = checkdata.check_dataset(root, partition)
    assert report.sequences == 1 and report.problems
    assert all(where == str(partition) for where, _ in report.problems)


class Reduces:
    """Pickles as a call ``func(*args)``: unpickling it runs the call, as a damaged or foreign file may."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def good_bytes():
    return pickle.dumps(np.full((10, 64, 64), 255, np.uint8))


# Each kind of corrupt pkl, and how it is listed: unreadable (with what the safe loader met), or
# refused, not loaded (naming the global it would have called, or what is unsafe in its array).
CORRUPT = {
    "not a pickle": (lambda: b"not a pickle", "unreadable (UnpicklingError: invalid load key, 'n'.)"),
    "empty file": (lambda: b"", "unreadable (UnpicklingError: pickle data was truncated)"),
    "truncated": (lambda: good_bytes()[:len(good_bytes()) // 2], "unreadable (UnpicklingError: pickle data was "
                                                                 "truncated)"),
    "damaged dtype": (lambda: good_bytes().replace(b"u1", b"zz"), "refused, not loaded: its array has dtype 'zz'"),
    "missing key": (lambda: pickle.dumps(Reduces(operator.getitem, {}, "frames")),
                    "refused, not loaded: the pickle names `_operator.getitem`"),
    "missing module": (lambda: b"cno_such_module_x\nthing\n.",
                       "refused, not loaded: the pickle names `no_such_module_x.thing`"),
    "missing attribute": (lambda: b"cnumpy\nno_such_attr_x\n.",
                          "refused, not loaded: the pickle names `numpy.no_such_attr_x`"),
    "bad buffer": (lambda: pickle.dumps(Reduces(np.frombuffer, b"abc", np.uint16)),
                   "refused, not loaded: the pickle names `numpy.frombuffer`"),
    "any exception": (lambda: pickle.dumps(Reduces(operator.truediv, 1, 0)),
                      "refused, not loaded: the pickle names `_operator.truediv`"),
}


@pytest.mark.parametrize("kind", CORRUPT)
def test_every_kind_of_corrupt_pkl_is_listed_without_a_traceback(tmp_path, capsys, kind):
    make, error = CORRUPT[kind]
    root = tmp_path / "data"
    write_pkl(root / "001/nm-01/000/000.pkl", np.full((10, 64, 64), 255, np.uint8))
    bad = root / "001/nm-02/000/000.pkl"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(make())
    partition = tmp_path / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": []}))

    code = cli.main(["check-data", "--root", str(root), "--partition", str(partition)])
    out = capsys.readouterr()
    assert code == EXIT_USER_ERROR and "Traceback" not in out.out + out.err
    assert "checked 2 pkl file(s): 1 problem(s)" in out.out
    assert f"{bad}: {error}" in out.out


def test_a_folder_named_pkl_is_listed(tmp_path):
    root = tmp_path / "data"
    (root / "001/nm-01/000/000.pkl").mkdir(parents=True)
    partition = tmp_path / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": []}))
    report = checkdata.check_dataset(root, partition)
    assert [reason.split(";")[0] for _, reason in report.problems] == ["is a folder, not a regular file"]


def test_a_tree_of_thousands_of_files_is_checked_to_the_end(tmp_path, capsys):
    """Bad files spread through 2000: every one is listed, the walk never stops early."""
    from malicious import write_malicious_pkl
    root = tmp_path / "data"
    good = pickle.dumps(np.full((3, 8, 8), 255, np.uint8))
    bad = {}
    for i in range(2000):
        path = root / f"{i // 100:03d}" / f"nm-{i % 100 // 10:02d}" / f"{i % 10:03d}" / "000.pkl"
        path.parent.mkdir(parents=True, exist_ok=True)
        if i % 250 == 7:
            write_malicious_pkl(path, tmp_path / "PWNED")
            bad[str(path)] = "unsafe"
        elif i % 250 == 123:
            path.write_bytes(good[:40])
            bad[str(path)] = "unreadable"
        else:
            path.write_bytes(good)
    partition = tmp_path / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": [f"{i:03d}" for i in range(20)], "TEST_SET": ["999"]}))
    code = checkdata.main(argparse.Namespace(cfgs=None, root=str(root), partition=str(partition), json=True,
                                             no_progress=False, data_in_use=None))
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == EXIT_USER_ERROR and not (tmp_path / "PWNED").exists()
    assert report["files_checked"] == 2000
    by_file = {p["where"]: p["kind"] for p in report["problems"] if p["kind"] in ("unsafe", "unreadable")}
    assert by_file == bad and report["kinds"]["unsafe"] == 8 and report["kinds"]["unreadable"] == 8
    assert "id 999" in {p["where"] for p in report["problems"]}
    assert "2000/2000" in captured.err  # the progress bar ran to the end


def test_frame_size_comes_from_the_config(tmp_path, capsys):
    root = tmp_path / "data"
    write_pkl(root / "001/nm-01/000/000.pkl", np.full((10, 128, 128), 255, np.uint8))
    partition = tmp_path / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": []}))
    assert checkdata.check_dataset(root, partition, frame_size=(128, 128)).problems == []
    report = checkdata.check_dataset(root, partition)
    assert report.kinds == ["frame-size"] and "frames are 128x128, expected 64x64" in report.problems[0][1]
