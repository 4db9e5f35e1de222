"""``check-data`` lists every unreadable or malformed pkl and every partition id without data."""
import argparse
import json
import pickle

import numpy as np

from opengait_gaitbert.launcher import checkdata


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
    assert reasons == {
        "001/nm-02/000/000.pkl": "all frames are background (all zero)",
        "002/nm-01/000/000.pkl": "dtype float32, expected uint8 (0..255)",
        "002/nm-02/000/000.pkl": "frames are 64x44, expected 64x64",
        "002/nm-03/000/000.pkl": "empty sequence (0 frames)",
        "002/nm-04/000/000.pkl": "shape (64, 64): expected [T, h, w]",
        "002/nm-05/000/000.pkl": "holds a list, not a numpy array",
        "002/nm-06/000/000.pkl": reasons["002/nm-06/000/000.pkl"],
        "id 003": f"in the partition but no pkl under {root / '003'}",
    }
    assert reasons["002/nm-06/000/000.pkl"].startswith("unreadable (UnpicklingError")

    args = argparse.Namespace(cfgs=None, root=str(root), partition=str(partition))
    assert checkdata.main(args) == 1
    assert "checked 8 pkl file(s): 8 problem(s)" in capsys.readouterr().out


def test_clean_dataset_passes(tmp_path, capsys):
    from opengait_gaitbert.data import synth
    partition = synth.generate(tmp_path / "data", ids=2, frames=5, views=["000", "090"], progress=False)
    args = argparse.Namespace(cfgs=None, root=str(tmp_path / "data"), partition=str(partition))
    assert checkdata.main(args) == 0
    assert "0 problem(s)" in capsys.readouterr().out


def test_missing_root_is_a_clear_exit(tmp_path, capsys):
    args = argparse.Namespace(cfgs=None, root=str(tmp_path / "nope"), partition=str(tmp_path / "p.json"))
    assert checkdata.main(args) == 2
    assert "is not a folder" in capsys.readouterr().out
