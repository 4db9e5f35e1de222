"""``embed`` / ``identify``: folder discovery, OpenGait's distance, ranking, CLI; no OpenGait."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tiny_model import fit_identities, tiny_cfg
from opengait_gaitbert.data.pretreat import align_sequence
from opengait_gaitbert.launcher import cli
from opengait_gaitbert.tools.checkpoint import load_model, preprocess
from opengait_gaitbert.tools.identify import (EmbeddingSet, distance, embed_folder, find_sequences,
                                              rank)
from opengait_gaitbert.data.safe_pickle import load_stream

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_CFG = tiny_cfg()
IDS = ("pole", "disc", "cone")
TRAIN_STEPS = 12




def shape_sequence(kind: str, frames: int = 10, phase: float = 0.0, shift: int = 0) -> np.ndarray:
    """uint8 [T, 120, 100]: a clearly different moving shape per identity.

    ``pole``: a thin tall bar whose top sways; ``disc``: a round blob that bounces;
    ``cone``: a triangle whose base widens and narrows. ``phase``/``shift`` vary
    the recording (start of the motion, position in the frame).
    """
    seq = np.zeros((frames, 120, 100), dtype=np.uint8)
    for t in range(frames):
        x = 30 + shift + 2 * t
        wave = np.sin(phase + t / 1.5)
        if kind == "pole":
            cv2.line(seq[t], (x, 110), (x + int(6 * wave), 10), 255, 6)
        elif kind == "disc":
            cv2.circle(seq[t], (x, 60 + int(8 * wave)), 34, 255, -1)
        else:
            half = 25 + int(8 * wave)
            pts = np.array([[x, 10], [x - half, 110], [x + half, 110]], dtype=np.int32)
            cv2.fillPoly(seq[t], [pts], 255)
    return seq


def write_pkl_tree(root: Path) -> None:
    """Gallery as OpenGait pretreated data: ROOT/<id>/<type>/<view>/<view>.pkl of [T, 64, 64]."""
    for kind in IDS:
        for n, (seq_type, view) in enumerate([("nm-01", "000"), ("nm-02", "090")]):
            folder = root / kind / seq_type / view
            folder.mkdir(parents=True)
            with open(folder / f"{view}.pkl", "wb") as fh:
                pickle.dump(align_sequence(shape_sequence(kind, phase=n, shift=3 * n)), fh)


def write_gif(path: Path, seq: np.ndarray) -> None:
    frames = [Image.fromarray(f) for f in seq]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=40, loop=0)


def write_png_folder(folder: Path, seq: np.ndarray) -> None:
    folder.mkdir(parents=True)
    for t, frame in enumerate(seq):
        cv2.imwrite(str(folder / f"frame{t}.png"), frame)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Gallery pkl tree, flat probes (GIF + PNG folder) and grouped probes (ROOT/<id>/<name>.gif)."""
    root = tmp_path_factory.mktemp("data")
    write_pkl_tree(root / "gallery")
    flat = root / "probe"
    flat.mkdir()
    write_gif(flat / "pole.gif", shape_sequence("pole", 12, phase=2.0, shift=-8))
    write_gif(flat / "cone.gif", shape_sequence("cone", 12, phase=2.0, shift=-8))
    write_png_folder(flat / "disc", shape_sequence("disc", 12, phase=2.0, shift=-8))
    grouped = root / "grouped"
    for kind in IDS:
        (grouped / kind).mkdir(parents=True)
        write_gif(grouped / kind / "walk-2.gif", shape_sequence(kind, 9, phase=4.0, shift=5))
    (root / "cfg.yaml").write_text(TINY_CFG)
    return root


@pytest.fixture(scope="module")
def net(data):
    """The tiny network after a few cross-entropy steps on recordings not in gallery/probes."""
    torch.manual_seed(0)
    net = load_model(data / "cfg.yaml")[0]
    train = [(label, preprocess(shape_sequence(kind, 10, phase=phase, shift=shift)))
             for label, kind in enumerate(IDS) for phase, shift in [(0.5, 0), (3.0, 6)]]
    sils = torch.stack([s for _, s in train])  # [6, 10, 64, 44]
    labels = torch.tensor([label for label, _ in train])
    return fit_identities(net, sils, labels, TRAIN_STEPS)


def reference_cuda_dist(x: np.ndarray, y: np.ndarray, metric: str) -> np.ndarray:
    """OpenGait's evaluation/metric.py cuda_dist, line for line, on CPU."""
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    if metric == "cos":
        x, y = F.normalize(x, p=2, dim=1), F.normalize(y, p=2, dim=1)
    num_bin = x.size(2)
    dist = torch.zeros(x.size(0), y.size(0))
    for i in range(num_bin):
        _x, _y = x[:, :, i], y[:, :, i]
        if metric == "cos":
            dist += torch.matmul(_x, _y.transpose(0, 1))
        else:
            _dist = torch.sum(_x ** 2, 1).unsqueeze(1) + torch.sum(_y ** 2, 1).unsqueeze(0) \
                - 2 * torch.matmul(_x, _y.transpose(0, 1))
            dist += torch.sqrt(F.relu(_dist))
    return (1 - dist / num_bin if metric == "cos" else dist / num_bin).numpy()


@pytest.mark.parametrize("metric", ["euc", "cos"])
def test_distance_matches_opengait_evaluator(metric):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 16, 7)).astype(np.float32)
    y = rng.normal(size=(9, 16, 7)).astype(np.float32)
    got = distance(x, y, metric).numpy()
    assert got.shape == (5, 9)
    np.testing.assert_allclose(got, reference_cuda_dist(x, y, metric), rtol=1e-5, atol=1e-5)


def test_find_sequences_reads_ids_from_each_layout(data):
    tree = find_sequences(data / "gallery")
    assert len(tree) == 6
    assert {(e.id, e.type, e.view) for e in tree} >= {("pole", "nm-01", "000"), ("cone", "nm-02", "090")}
    assert all(e.path.endswith(".pkl") for e in tree)

    flat = find_sequences(data / "probe")
    assert [(e.id, e.type) for e in flat] == [("cone", ""), ("disc", ""), ("pole", "")]
    grouped = find_sequences(data / "grouped")
    assert [(e.id, e.type) for e in grouped] == [(k, "walk-2") for k in sorted(IDS)]


def test_find_sequences_names_an_empty_or_missing_folder(tmp_path):
    from opengait_gaitbert.core.errors import DataError
    with pytest.raises(DataError, match=str(tmp_path)):
        find_sequences(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        find_sequences(tmp_path / "missing")


def test_probes_rank_their_own_identity_first(data, net):
    gallery = embed_folder(net, data / "gallery")
    assert gallery.embeddings.shape == (6, 32, 16)
    for probes in ("probe", "grouped"):
        probe = embed_folder(net, data / probes)
        for metric in ("euc", "cos"):
            results = rank(probe, gallery, topk=4, metric=metric)
            for result in results:
                seqs = result["sequences"]
                assert len(seqs) == 4
                assert [m["distance"] for m in seqs] == sorted(m["distance"] for m in seqs)
                ids = [m["id"] for m in result["identities"]]
                assert len(ids) == len(set(ids)) == 3  # only 3 distinct ids exist
                assert ids[0] == result["probe"]["id"], (probes, metric, result)


def test_embed_matches_the_network_on_the_pretreated_sequence(data, net):
    """The embedding of a pkl is net.embed of its 64x44 cut, scaled to [0, 1]."""
    entries = embed_folder(net, data / "gallery")
    with open(entries.paths[0], "rb") as fh:
        seq = load_stream(fh, fh.name)
    sils = torch.from_numpy(seq[:, :, 10:-10].astype(np.float32) / 255)[None]
    with torch.no_grad():
        expected = net.embed(sils)[0].numpy()
    np.testing.assert_allclose(entries.embeddings[0], expected, rtol=1e-5, atol=1e-6)


def test_cli_embed_writes_npz_and_identify_reuses_it(data, net, tmp_path, capsys):
    cfg = str(data / "cfg.yaml")
    ckpt = tmp_path / "GaitBERT-00010.pt"
    torch.save({"model": {f"net.{k}": v for k, v in net.state_dict().items()}, "iteration": 10}, ckpt)
    npz = tmp_path / "gallery.npz"
    assert cli.main(["embed", "--cfgs", cfg, "--ckpt", str(ckpt), "--data", str(data / "gallery"),
                     "--out", str(npz)]) == 0
    stored = np.load(npz)
    assert stored["embeddings"].shape == (6, 32, 16)
    assert sorted(set(stored["ids"].tolist())) == sorted(IDS)
    assert set(stored["types"].tolist()) == {"nm-01", "nm-02"}
    assert set(stored["views"].tolist()) == {"000", "090"}
    assert all(Path(p).is_file() for p in stored["paths"].tolist())
    capsys.readouterr()

    out_json = tmp_path / "rank.json"
    code = cli.main(["identify", "--cfgs", cfg, "--ckpt", str(ckpt), "--gallery", str(npz),
                     "--probe", str(data / "probe"), "--topk", "2", "--metric", "cos",
                     "--json", str(out_json)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "probe pole" in printed and "top identities:" in printed and "cos dist" in printed
    doc = json.loads(out_json.read_text())
    assert doc["metric"] == "cos" and doc["topk"] == 2 and len(doc["probes"]) == 3
    for result in doc["probes"]:
        assert len(result["sequences"]) == 2 and len(result["identities"]) == 2
        assert result["identities"][0]["id"] == result["probe"]["id"]
        assert {"id", "type", "view", "distance", "path"} <= set(result["sequences"][0])


def test_identify_from_npz_equals_identify_from_folder(data, net, tmp_path):
    gallery = embed_folder(net, data / "gallery")
    gallery.save(tmp_path / "g.npz")
    loaded = EmbeddingSet.load(tmp_path / "g.npz")
    assert loaded.ids == gallery.ids and loaded.paths == gallery.paths
    np.testing.assert_array_equal(loaded.embeddings, gallery.embeddings)


def test_cli_errors_name_the_problem(data, tmp_path, capsys):
    cfg = str(data / "cfg.yaml")
    assert cli.main(["embed", "--cfgs", cfg, "--data", str(data / "gallery"),
                     "--out", str(tmp_path / "x.txt")]) == 2
    assert ".npz" in capsys.readouterr().err
    assert cli.main(["identify", "--cfgs", cfg, "--gallery", str(tmp_path / "none"),
                     "--probe", str(data / "probe")]) == 2
    assert str(tmp_path / "none") in capsys.readouterr().err


def test_embed_and_identify_have_their_own_options():
    def options(command):
        sub = next(a for a in cli.build_parser(command)._actions if a.dest == "command").choices
        return {o for a in sub[command]._actions for o in a.option_strings}

    embed_opts, identify_opts = options("embed"), options("identify")
    assert {"--data", "--out"} <= embed_opts and "--gallery" not in embed_opts
    assert {"--gallery", "--probe", "--topk", "--metric", "--json"} <= identify_opts
    assert "--data" not in identify_opts
