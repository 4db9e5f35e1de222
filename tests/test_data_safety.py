"""Untrusted data runs no code, and every bad input ends in a message naming the file and the fix.

The table of bad inputs in docs/data-safety.md is the specification: each row is run
here (input, command) and must print its quoted message and exit with its status.
The entry points that read pkl files (check-data, pretreat's reader, embed, identify)
are each given a pkl whose unpickling would create a marker file; it never appears.
The launcher's train and test runs are in tests/integration/test_data_safety.py.
"""
from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from malicious import claimed_frames_pkl, flagged_dtype_pkl, object_pointer_pkl, silhouettes, write_malicious_pkl, \
    zero_stride_pkl
from opengait_gaitbert import config_path
from opengait_gaitbert.core.errors import EXIT_USER_ERROR, DataError, UnsafePickleError
from opengait_gaitbert.data import pretreat
from opengait_gaitbert.data.safe_pickle import MAX_BYTES_ENV, TRUST_ENV
from opengait_gaitbert.launcher import cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "data-safety.md"
DEMO_CFG = str(config_path("gaitbert_demo.yaml"))


def doc_rows():
    """(input, command, quoted message, exit status) of each row of the doc's bad-input table."""
    text = DOC.read_text()
    table = text[text.index("| Input | Command |"):].split("\n\n")[0].splitlines()[2:]
    rows = []
    for line in table:
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        quoted = re.fullmatch(r"``\s(.*)\s``|`([^`]*)`", cells[2])
        rows.append((cells[0], cells[1], quoted.group(1) or quoted.group(2), int(cells[3])))
    return rows


# -- building each input ----------------------------------------------------------------

def pkl_tree(tmp_path: Path, content) -> Path:
    """``data/001/nm-01/000/000.pkl`` holding ``content`` (bytes, or an object to pickle) and a partition."""
    root = tmp_path / "data"
    path = root / "001" / "nm-01" / "000" / "000.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(content if isinstance(content, bytes) else pickle.dumps(content))
    (tmp_path / "partition.json").write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": []}))
    return root


def with_nan():
    seq = silhouettes().astype(np.float32) / 255
    seq[2, 3, 4] = np.nan
    return seq


def partly_empty():
    seq = silhouettes()
    seq[[1, 4, 7]] = 0
    return seq


PKL_INPUTS = {
    "pkl naming only numpy globals whose bytes numpy would take as object pointers": object_pointer_pkl,
    "pkl whose dtype state sets numpy's object flags": flagged_dtype_pkl,
    "50-byte pkl claiming 2^30 frames with zero strides": zero_stride_pkl,
    "pkl whose shape claims 2^30 frames over one frame of data": claimed_frames_pkl,
    "pkl over the size limit (OPENGAIT_GAITBERT_MAX_PKL_BYTES=4096)": silhouettes,
    "truncated pkl": lambda: pickle.dumps(silhouettes())[:3000],
    # What a download link often gives instead of the file: the host's HTML page.
    "non-pickle file named .pkl": lambda: b"<!DOCTYPE html><html><head><title>Virus scan warning</title></html>\n",
    "float array": lambda: silhouettes().astype(np.float32) / 255,
    "bool array": lambda: silhouettes() > 0,
    "int64 array": lambda: silhouettes().astype(np.int64),
    "int64 array beyond 0..255": lambda: np.where(silhouettes() > 0, 300, 0).astype(np.int64),
    "NaN in a float array": with_nan,
    "[T, 64, 44] array": lambda: silhouettes()[:, :, 10:-10],
    "[T, 128, 128] array": lambda: silhouettes(size=128),
    "2-D array": lambda: silhouettes()[0],
    "4-D array": lambda: silhouettes(5)[:, None],
    "0 frames": lambda: silhouettes(0),
    "1 frame": lambda: silhouettes(1),
    "frames with no foreground": partly_empty,
}


#: A config whose data_cfg is a YAML tag that would run ``touch PWNED`` (column 11 of line 1).
TAGGED_YAML = 'data_cfg: !!python/object/apply:os.system ["touch PWNED"]\n'
#: A GIF (45 bytes) whose screen and only frame declare 65535x65535 pixels.
BOMB_GIF = (b"GIF89a\xff\xff\xff\xff\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
            + b",\x00\x00\x00\x00\xff\xff\xff\xff\x00\x02\x02D\x01\x00;")


def bomb_png() -> bytes:
    """A PNG whose header declares 65535x65535 grey pixels, with one tiny compressed row."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 65535, 65535, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))


def build(tmp_path: Path, name: str, monkeypatch):
    """Write input ``name`` (and set its environment); returns (dataset root, partition, marker file)."""
    marker = tmp_path / "PWNED"
    partition = tmp_path / "partition.json"
    sequence = tmp_path / "data" / "001" / "nm-01" / "000" / "000.pkl"
    monkeypatch.chdir(tmp_path)  # a YAML tag's "touch PWNED" would land here
    if name == "pkl whose unpickling runs code":
        root = pkl_tree(tmp_path, silhouettes())
        write_malicious_pkl(root / "001" / "nm-01" / "000" / "000.pkl", marker)
    elif name in PKL_INPUTS:
        root = pkl_tree(tmp_path, PKL_INPUTS[name]())
    elif name == "symbolic link loop in the data root":
        root = pkl_tree(tmp_path, silhouettes())
        os.symlink("loop", root / "001" / "nm-01" / "loop")  # a view folder that points at itself
    elif name == "malformed partition JSON":
        root = pkl_tree(tmp_path, silhouettes())
        partition.write_text('{"TRAIN_SET": ["001"], ')
    elif name == "FIFO named 01.pkl":
        root = pkl_tree(tmp_path, silhouettes())
        sequence.unlink()
        os.mkfifo(sequence.with_name("01.pkl"))
    elif name == "folder named 01.pkl":
        root = pkl_tree(tmp_path, silhouettes())
        sequence.with_name("01.pkl").mkdir()
    elif name == "symbolic link out of the data root":
        root = pkl_tree(tmp_path, silhouettes())
        outside = tmp_path / "elsewhere.pkl"
        sequence.rename(outside)
        sequence.symlink_to(outside)
    else:
        root = pkl_tree(tmp_path, silhouettes())
    if "OPENGAIT_GAITBERT_MAX_PKL_BYTES=4096" in name:
        monkeypatch.setenv(MAX_BYTES_ENV, "4096")
    if name == "OPENGAIT_GAITBERT_TRUST_DATA=false":
        monkeypatch.setenv(TRUST_ENV, "false")
    return root, partition, marker


def argv(tmp_path: Path, name: str, command: str, root: Path, partition: Path):
    if name.startswith("YAML tag"):
        cfg = tmp_path / "tagged.yaml"
        cfg.write_text(TAGGED_YAML if name == "YAML tag in --cfgs" else Path(DEMO_CFG).read_text())
        if command == "check-data":
            return ["check-data", "--cfgs", cfg, "--no-progress"]
        tagged_set = ["--set", 'trainer_cfg.total_iter=!!python/object/apply:os.system ["touch PWNED"]']
        return [command, "--cfgs", cfg, *(tagged_set if name == "YAML tag in a --set value" else [])]
    if command == "train":
        return ["train", "--cfgs", DEMO_CFG, "--opengait", tmp_path / "no-opengait-needed"]
    if command == "check-data":
        return ["check-data", "--root", root, "--partition", partition, "--no-progress"]
    if command == "visualize":
        gif = tmp_path / "bomb.gif"
        gif.write_bytes(BOMB_GIF)
        return ["visualize", "--cfgs", DEMO_CFG, "--seq", gif, "--out", tmp_path / "v.png"]
    if name == "PNG frame declaring 65535x65535 pixels":
        frames = tmp_path / "frames" / "walker"
        frames.mkdir(parents=True)
        (frames / "frame0.png").write_bytes(bomb_png())
        return ["embed", "--cfgs", DEMO_CFG, "--data", frames.parent, "--out", tmp_path / "e.npz"]
    if command == "embed":
        extra = []
        if name == "checkpoint of another model":
            ckpt = tmp_path / "GaitSet-00100.pt"
            torch.save({"model": {"set_block1.forward_block.0.weight": torch.zeros(32, 1, 5, 5)},
                        "iteration": 100}, ckpt)
            extra = ["--ckpt", ckpt]
        return ["embed", "--cfgs", DEMO_CFG, "--data", root, "--out", tmp_path / "e.npz", *extra]
    if command == "video":
        clip = tmp_path / {"unreadable video": "broken.mp4", "video of 9000x9000 frames": "big.y4m"}.get(name, "empty.avi")
        if name == "unreadable video":
            clip.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
        elif name == "video of 9000x9000 frames":  # a header and a few bytes: the frame is never decoded
            clip.write_bytes(b"YUV4MPEG2 W9000 H9000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(100))
        else:
            cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 120)).release()
        return ["video", clip, "--out", tmp_path / "out", "--no-progress"]
    raise AssertionError(f"no way to run {command!r}")


@pytest.mark.parametrize("name,command,message,status", doc_rows(), ids=lambda v: str(v)[:40])
def test_each_bad_input_of_the_doc_gets_its_message(tmp_path, capsys, monkeypatch, name, command, message, status):
    if command == "test":
        pytest.skip("needs OpenGait: tests/integration/test_data_safety.py runs this row")
    if "FIFO" in name and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    root, partition, marker = build(tmp_path, name, monkeypatch)
    code = cli.main([str(a) for a in argv(tmp_path, name, command, root, partition)])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == status, text[-2000:]
    assert message in text, text[-2000:]
    assert "Traceback" not in text and not marker.exists()
    assert not list(tmp_path.glob("PWNED*"))  # a YAML tag's command did not run either
    if name in PKL_INPUTS or name == "symbolic link out of the data root":
        assert str(root / "001" / "nm-01" / "000" / "000.pkl") in text  # the message names the file
    elif "01.pkl" in name:
        assert str(root / "001" / "nm-01" / "000" / "01.pkl") in text


def test_the_doc_table_covers_every_kind_of_bad_input():
    names = {name for name, *_ in doc_rows()}
    assert set(PKL_INPUTS) | {"pkl whose unpickling runs code", "symbolic link loop in the data root",
                              "malformed partition JSON", "unreadable video", "empty video",
                              "checkpoint of another model", "FIFO named 01.pkl", "folder named 01.pkl",
                              "symbolic link out of the data root", "OPENGAIT_GAITBERT_TRUST_DATA=false",
                              "YAML tag in a --set value", "YAML tag in --cfgs", "GIF declaring 65535x65535 pixels",
                              "PNG frame declaring 65535x65535 pixels", "video of 9000x9000 frames",
                              "checkpoint whose unpickling runs code, restored by the test phase's integer "
                              "restore_hint"} == names


# -- a malicious pkl at every entry point -------------------------------------------------

def test_check_data_lists_a_malicious_pkl_among_good_ones_and_prints_json(tmp_path, capsys):
    root = pkl_tree(tmp_path, silhouettes())
    for n in range(2, 6):
        (root / "001" / f"nm-0{n}" / "000").mkdir(parents=True)
        (root / "001" / f"nm-0{n}" / "000" / "000.pkl").write_bytes(pickle.dumps(silhouettes()))
    evil = write_malicious_pkl(root / "001" / "nm-03" / "000" / "000.pkl", tmp_path / "PWNED")
    code = cli.main(["check-data", "--root", str(root), "--partition", str(tmp_path / "partition.json"),
                     "--json", "--no-progress"])
    report = json.loads(capsys.readouterr().out)
    assert code == EXIT_USER_ERROR and not (tmp_path / "PWNED").exists()
    assert report["files_checked"] == 5 and report["problem_count"] == 1 and report["ok"] is False
    assert report["kinds"] == {"unsafe": 1}
    assert report["problems"][0]["where"] == str(evil) and "posix.system" in report["problems"][0]["reason"]


def test_pretreat_never_loads_a_pkl_and_its_sequence_reader_refuses_one(tmp_path, capsys):
    frames = tmp_path / "in" / "train" / "alice"
    frames.mkdir(parents=True)
    for t, frame in enumerate(np.kron(silhouettes(), np.ones((3, 3), np.uint8))):
        cv2.imwrite(str(frames / f"frame{t}.png"), frame)
    evil = write_malicious_pkl(frames / "frame99.pkl", tmp_path / "PWNED")  # a pkl among the frames
    assert cli.main(["pretreat", "--layout", "frames", str(tmp_path / "in"), str(tmp_path / "out"),
                     "--no-progress"]) == 0
    with pytest.raises(UnsafePickleError, match=f"^{evil}: refused to unpickle"):
        pretreat.read_sequence(evil)  # the reader embed, identify and visualize use
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("command", ["embed", "identify"])
def test_embed_and_identify_refuse_a_malicious_pkl(tmp_path, capsys, command):
    good = pkl_tree(tmp_path, silhouettes())
    evil = write_malicious_pkl(tmp_path / "probe" / "002" / "nm-01" / "000" / "000.pkl", tmp_path / "PWNED")
    args = (["embed", "--data", evil.parents[3], "--out", tmp_path / "e.npz"] if command == "embed" else
            ["identify", "--gallery", good, "--probe", evil.parents[3]])
    code = cli.main([str(a) for a in [*args, "--cfgs", DEMO_CFG]])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR and f"{evil}: refused to unpickle: it names the global `posix.system`" in err
    assert not (tmp_path / "PWNED").exists()


# -- the launcher's check before any process starts (no OpenGait needed) ---------------------

def launcher_cfg(root: Path, partition: Path, **trainer) -> dict:
    return {"data_cfg": {"dataset_root": str(root), "dataset_partition": str(partition)},
            "trainer_cfg": trainer}


def test_the_launcher_check_reads_the_files_of_the_phase_and_refuses_unsafe_ones(tmp_path):
    from opengait_gaitbert.launcher.checkdata import refuse_unsafe_files, run_files
    root = pkl_tree(tmp_path, silhouettes())  # id 001: TRAIN_SET
    test_file = root / "002" / "nm-01" / "000" / "000.pkl"
    test_file.parent.mkdir(parents=True)
    test_file.write_bytes(pickle.dumps(silhouettes()))
    partition = tmp_path / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": ["002"]}))
    train, test = root / "001" / "nm-01" / "000" / "000.pkl", test_file
    assert run_files(launcher_cfg(root, partition), "train", tmp_path) == [train]
    assert run_files(launcher_cfg(root, partition), "test", tmp_path) == [test]
    assert run_files(launcher_cfg(root, partition, with_test=True), "train", tmp_path) == [train, test]

    os.symlink("loop", root / "999")  # a link loop outside the partition: OpenGait never reads it
    assert refuse_unsafe_files(launcher_cfg(root, partition), "train", tmp_path, "my.yaml") == 1
    os.symlink("loop", root / "001" / "nm-01" / "loop")  # inside a partition id: OpenGait's listing fails
    with pytest.raises(DataError, match=r"nm-01/loop: a broken symbolic link or a symbolic link loop"):
        run_files(launcher_cfg(root, partition), "train", tmp_path)
    (root / "001" / "nm-01" / "loop").unlink()

    marker = tmp_path / "PWNED"
    write_malicious_pkl(test, marker)
    assert refuse_unsafe_files(launcher_cfg(root, partition), "train", tmp_path, "my.yaml") == 1
    with pytest.raises(UnsafePickleError, match=rf"^{test}: refused to unpickle.*check-data --cfgs my.yaml"):
        refuse_unsafe_files(launcher_cfg(root, partition), "test", tmp_path, "my.yaml")
    assert not marker.exists()
