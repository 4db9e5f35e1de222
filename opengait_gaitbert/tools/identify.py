"""``opengait-gaitbert embed`` and ``identify``: embeddings of sequences, and gallery ranking.

Both commands find every sequence under a folder (see :func:`find_sequences`),
pretreat it like OpenGait's test pipeline (align to 64x64, cut to 64x44, scale
to [0, 1]) and run the encoder path of GaitBERT (no decoder) on each whole
sequence.

``embed`` saves ``embeddings [N, e, p]`` with ``ids``, ``types``, ``views`` and
``paths`` to a ``.npz``. ``identify`` ranks the gallery sequences for each probe
by OpenGait's evaluator distance (:func:`distance`, the same formula as its
``cuda_dist``), prints the top-k sequences and the top-k distinct identities,
and can write them as JSON. ``--gallery``/``--probe`` also accept a ``.npz``
written by ``embed`` (the same --cfgs/--ckpt must have made it).

A video file (``.mp4``, ``.avi``, ...: see
:data:`~opengait_gaitbert.video.frames.VIDEO_SUFFIXES`) stands for one sequence
per person tracked in it by ``opengait-gaitbert video``'s front end (static
camera, default settings; id ``<video>_<track>``), so either side of
``identify`` or ``embed --data`` can be a video; ``identify`` then prints a
ranked table per tracked person.

Identity of a sequence, by folder layout:

- OpenGait pkl tree ``ROOT/<id>/<type>/<view>/*.pkl``: id, type and view from the
  path (the first pkl of a view folder in sorted order, as OpenGait loads it);
- ``ROOT/<name>.gif``, ``ROOT/<name>.pkl`` or ``ROOT/<name>/`` (a folder of PNG
  frames): id = ``<name>`` (file or folder stem); type and view are empty;
- ``ROOT/<id>/<name>.gif`` or ``ROOT/<id>/<name>/*.png``: id = ``<id>``, type = ``<name>``.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .checkpoint import describe_model, load_model
from .model_arguments import add_model_arguments
from .network_input import preprocess, read_aligned
from .trained_config import cutting_options
from ..core.errors import CheckpointError, DataError
from ..progress import progress as show_progress

METRICS = ("euc", "cos")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
SEQUENCE_SUFFIXES = (".gif", ".pkl")

EPILOG = """examples:
  opengait-gaitbert embed --cfgs my.yaml --ckpt GaitBERT-60000.pt --data CASIA-B-pkl/ --out casiab.npz
  opengait-gaitbert identify --cfgs my.yaml --ckpt GaitBERT-60000.pt \\
      --gallery gallery/ --probe probe/ --topk 5 --json ranking.json
  opengait-gaitbert identify --cfgs my.yaml --ckpt GaitBERT-60000.pt --gallery gallery/ --probe street.mp4

Folders: an OpenGait tree ROOT/<id>/<type>/<view>/*.pkl (id/type/view from the
path); or ROOT/<name>.gif, ROOT/<name>.pkl, ROOT/<name>/*.png (id = <name>); or
ROOT/<id>/<name>.gif, ROOT/<id>/<name>/*.png (id = <id>, type = <name>); or a
video file: one sequence per tracked person (id = <video>_<track>; to tune the
tracking, run `opengait-gaitbert video` and pass its OUT/silhouettes folder).
Distances are OpenGait's evaluator's (euc: mean over parts of the Euclidean
distance; cos: 1 - mean over parts of the cosine similarity).
"""


@dataclass(frozen=True)
class SequenceEntry:
    """One sequence found in a folder, with its labels."""

    path: str
    id: str
    type: str = ""
    view: str = ""


@dataclass
class EmbeddingSet:
    """Embeddings of N sequences: ``embeddings [N, e, p]`` and per-sequence labels."""

    embeddings: np.ndarray
    ids: List[str]
    types: List[str]
    views: List[str]
    paths: List[str]

    def save(self, path: Path, **meta: str) -> None:
        """Write a ``.npz`` with the arrays ``embeddings, ids, types, views, paths`` (+ ``meta``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, embeddings=self.embeddings, ids=np.array(self.ids), types=np.array(self.types),
                 views=np.array(self.views), paths=np.array(self.paths),
                 **{k: np.array(v) for k, v in meta.items()})

    @classmethod
    def load(cls, path: Path) -> "EmbeddingSet":
        """Read a ``.npz`` written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["embeddings"], *(data[k].astype(str).tolist()
                                                 for k in ("ids", "types", "views", "paths")))
        except (OSError, KeyError, ValueError) as err:
            raise DataError(f"{path}: not an embeddings file written by `opengait-gaitbert embed` "
                            f"({err}).") from err


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def add_arguments(parser) -> None:
    """Add ``embed`` or ``identify`` options, chosen by the subcommand's name (``parser.prog``).

    The CLI maps both commands to this module and calls this once per subcommand.
    """
    add_model_arguments(parser)
    if parser.prog.split()[-1] == "embed":
        parser.add_argument("--data", required=True, help="folder of sequences, or a video (see below)")
        parser.add_argument("--out", required=True, help="output .npz")
        return
    parser.add_argument("--gallery", required=True,
                        help="folder of gallery sequences, a video, or an .npz from `embed`")
    parser.add_argument("--probe", required=True,
                        help="folder of probe sequences, a video, or an .npz from `embed`")
    parser.add_argument("--topk", type=int, default=5, help="matches shown per probe (default: 5)")
    parser.add_argument("--metric", choices=METRICS, default="euc",
                        help="OpenGait evaluator distance (default: euc)")
    parser.add_argument("--json", help="also write the ranking to this JSON file")


def main(args) -> int:
    """Dispatch on ``args.command`` (``embed`` or ``identify``); 0 on success.

    User errors raise :class:`~opengait_gaitbert.core.errors.GaitBERTError`; the CLI prints them.
    """
    if args.command == "embed":
        return run_embed(args)
    return run_identify(args)


def run_embed(args) -> int:
    """``embed``: every sequence under ``--data`` -> ``--out`` .npz."""
    out = Path(args.out)
    if out.suffix.lower() != ".npz":
        raise DataError(f"--out {out}: must end in .npz (numpy's archive format).")
    net, cfg = load_model(args.cfgs, args.ckpt, args.device)
    print(describe_model(net))
    result = embed_source(net, args.data, **cutting_options(cfg))
    result.save(out, cfgs=str(args.cfgs), ckpt=str(args.ckpt or ""))
    n, e, p = result.embeddings.shape
    print(f"wrote {out}: {n} sequences, {len(set(result.ids))} ids, embeddings [{n}, {e}, {p}]")
    return 0


def run_identify(args) -> int:
    """``identify``: rank the gallery for each probe, print tables, optionally write JSON."""
    if args.topk < 1:
        raise DataError(f"--topk must be >= 1; got {args.topk}.")
    net, cfg = load_model(args.cfgs, args.ckpt, args.device)
    print(describe_model(net))
    options = cutting_options(cfg)
    gallery = embeddings_of(net, args.gallery, "--gallery", options)
    probe = embeddings_of(net, args.probe, "--probe", options)
    if gallery.embeddings.shape[1:] != probe.embeddings.shape[1:]:
        raise DataError(f"--gallery embeddings {list(gallery.embeddings.shape[1:])} and --probe "
                        f"{list(probe.embeddings.shape[1:])} differ: they come from different models.")
    results = rank(probe, gallery, args.topk, args.metric)
    print(format_tables(results, args.metric))
    if args.json:
        write_json(Path(args.json), results, args)
        print(f"wrote {args.json}")
    return 0


def embeddings_of(net, source: str, flag: str, options: Dict) -> EmbeddingSet:
    """Embeddings of a folder or a video, or those stored in an ``.npz`` from ``embed`` (checked
    against ``net``)."""
    path = Path(source)
    if path.suffix.lower() != ".npz":
        return embed_source(net, path, **options)
    stored = EmbeddingSet.load(path)
    expected = [net.config.embed_dim, net.config.parts]
    if list(stored.embeddings.shape[1:]) != expected:
        raise CheckpointError(f"{flag} {path}: embeddings {list(stored.embeddings.shape[1:])} do not match "
                              f"the model's [embed_dim, parts] = {expected}; re-run `embed` with this "
                              "--cfgs/--ckpt.")
    return stored


# --------------------------------------------------------------------------
# Finding sequences
# --------------------------------------------------------------------------

def find_sequences(root) -> List[SequenceEntry]:
    """Every sequence under ``root`` with its id/type/view (layouts: see the module docstring).

    Raises:
        DataError: ``root`` is missing or holds no sequence.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder. Pass a folder of sequences (.pkl tree, .gif files "
                        "or folders of PNG frames).")
    entries = _opengait_tree(root) or _flat_or_grouped(root)
    if not entries:
        raise DataError(f"{root}: no sequences found. Expected ROOT/<id>/<type>/<view>/*.pkl, "
                        "ROOT/<name>.gif, ROOT/<name>/*.png or ROOT/<id>/<name>.gif.")
    return entries


def _opengait_tree(root: Path) -> List[SequenceEntry]:
    """``ROOT/<id>/<type>/<view>/*.pkl``: one entry per view folder (its first pkl, sorted)."""
    entries = []
    for view_dir in sorted({p.parent for p in root.glob("*/*/*/*.pkl")}):
        first = sorted(view_dir.glob("*.pkl"))[0]  # OpenGait's model uses the first input
        sid, seq_type, view = view_dir.relative_to(root).parts
        entries.append(SequenceEntry(str(first), sid, seq_type, view))
    return entries


def _is_sequence(path: Path) -> bool:
    if path.is_file():
        return path.suffix.lower() in SEQUENCE_SUFFIXES
    return path.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir() if p.is_file())


def _flat_or_grouped(root: Path) -> List[SequenceEntry]:
    """``ROOT/<name>.gif|.pkl|/`` (id = name) and ``ROOT/<id>/<name>.gif|/`` (id, type = name)."""
    if _is_sequence(root):  # ROOT itself is one folder of frames
        return [SequenceEntry(str(root), root.name)]
    entries = []
    for child in sorted(root.iterdir()):
        if _is_sequence(child):
            entries.append(SequenceEntry(str(child), child.stem if child.is_file() else child.name))
        elif child.is_dir():
            entries += [SequenceEntry(str(seq), child.name, seq.stem if seq.is_file() else seq.name)
                        for seq in sorted(child.iterdir()) if _is_sequence(seq)]
    return entries


# --------------------------------------------------------------------------
# Embedding
# --------------------------------------------------------------------------

def embed_sequence(net, sils) -> np.ndarray:
    """One preprocessed sequence ``[T, 64, 44]`` (tensor) -> embedding ``[e, p]`` (encoder path only)."""
    import torch

    device = next(net.parameters()).device
    with torch.no_grad():
        return net.embed(sils[None].to(device), None)[0].float().cpu().numpy()


def embed_source(net, source, divsor: float = 255.0, cutting: Optional[int] = None) -> EmbeddingSet:
    """:func:`embed_video` for a video file (by its ending), else :func:`embed_folder`, with progress."""
    from ..video.frames import VIDEO_SUFFIXES

    if Path(source).suffix.lower() in VIDEO_SUFFIXES:  # a missing one is named by the video reader
        return embed_video(net, source, progress=True, divsor=divsor, cutting=cutting)
    return embed_folder(net, source, progress=True, divsor=divsor, cutting=cutting)


def embed_video(net, path, progress: bool = False, divsor: float = 255.0,
                cutting: Optional[int] = None) -> EmbeddingSet:
    """Embed every person the ``video`` front end tracks in a static camera's video (default settings).

    Returns:
        :class:`EmbeddingSet`, one row per kept track: id ``<video>_<track id>``, empty type and
        view, path ``<video>#<track id>``.
    Raises:
        DataError (SequenceReadError among them): unreadable or empty video, or no usable person.
    """
    from ..video.pipeline import process_video
    from ..video.results import require_people

    result = process_video(path, progress=progress)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    tracks = require_people(result, f" Those are options of `opengait-gaitbert video {path} --out DIR`; "
                                    "pass its DIR/silhouettes folder here instead of the video.")
    rows = [embed_sequence(net, preprocess(t.silhouettes, divsor, cutting, aligned=True)) for t in tracks]
    names = [t.name for t in tracks]
    return EmbeddingSet(np.stack(rows).astype(np.float32), names, [""] * len(names), [""] * len(names),
                        [f"{path}#{t.id}" for t in tracks])


def embed_folder(net, root, progress: bool = False, divsor: float = 255.0,
                 cutting: Optional[int] = None) -> EmbeddingSet:
    """Embed every sequence :func:`find_sequences` finds under ``root``.

    Returns:
        :class:`EmbeddingSet` with ``embeddings [N, e, p]`` float32.
    Raises:
        DataError (SequenceReadError among them): a sequence cannot be read (the message names it).
    """
    net.eval()
    entries = find_sequences(root)
    rows = []
    for entry in show_progress(entries, f"embedding {root}", "seq", enabled=progress):
        sils = preprocess(read_aligned(entry.path), divsor, cutting, aligned=True)  # [T, 64, 44]
        rows.append(embed_sequence(net, sils))
    return EmbeddingSet(np.stack(rows).astype(np.float32), [e.id for e in entries],
                        [e.type for e in entries], [e.view for e in entries], [e.path for e in entries])


# --------------------------------------------------------------------------
# Distances and ranking
# --------------------------------------------------------------------------

def distance(x, y, metric: str = "euc"):
    """OpenGait's evaluator distance (``evaluation/metric.py: cuda_dist``), on any device.

    Args:
        x: ``[n, c, p]`` embeddings, y: ``[m, c, p]`` (tensors or arrays).
        metric: ``euc``: per part ``sqrt(relu(|x|^2 + |y|^2 - 2 x.y))``, mean over parts;
            ``cos``: x, y L2-normalised along ``c`` per part, ``1 - mean_p(x.y)``.
    Returns:
        float tensor ``[n, m]``; smaller is closer.
    """
    import torch
    import torch.nn.functional as F

    if metric not in METRICS:
        raise DataError(f"metric {metric!r} is unknown; allowed: {', '.join(METRICS)}.")
    x = torch.as_tensor(x).float()
    y = torch.as_tensor(y).float()
    if metric == "cos":
        x, y = F.normalize(x, p=2, dim=1), F.normalize(y, p=2, dim=1)
    xp, yp = x.permute(2, 0, 1), y.permute(2, 0, 1)  # [p, n, c], [p, m, c]
    dot = torch.bmm(xp, yp.transpose(1, 2))  # [p, n, m]
    if metric == "cos":
        return 1 - dot.mean(0)
    sq = (xp ** 2).sum(-1)[:, :, None] + (yp ** 2).sum(-1)[:, None, :] - 2 * dot
    return torch.sqrt(F.relu(sq)).mean(0)


@dataclass
class Match:
    """One gallery sequence (or identity) and its distance to a probe."""

    id: str
    distance: float
    type: str = ""
    view: str = ""
    path: str = ""


def rank(probe: EmbeddingSet, gallery: EmbeddingSet, topk: int = 5,
         metric: str = "euc") -> List[Dict]:
    """Per probe: the ``topk`` nearest gallery sequences and ``topk`` nearest distinct ids.

    An identity's distance is that of its nearest sequence.

    Returns:
        One dict per probe: ``probe`` (path/id/type/view), ``sequences`` and
        ``identities``, lists of :class:`Match` as dicts, nearest first.
    """
    dist = distance(probe.embeddings, gallery.embeddings, metric).numpy()  # [n, m]
    results = []
    for i, row in enumerate(dist):
        order = np.argsort(row, kind="stable")
        sequences = [Match(gallery.ids[j], float(row[j]), gallery.types[j], gallery.views[j],
                           gallery.paths[j]) for j in order[:topk]]
        identities, seen = [], set()
        for j in order:
            if gallery.ids[j] not in seen:
                seen.add(gallery.ids[j])
                identities.append(Match(gallery.ids[j], float(row[j])))
                if len(identities) == topk:
                    break
        results.append({
            "probe": {"path": probe.paths[i], "id": probe.ids[i], "type": probe.types[i],
                      "view": probe.views[i]},
            "sequences": [asdict(m) for m in sequences],
            "identities": [{"id": m.id, "distance": m.distance} for m in identities],
        })
    return results


def format_tables(results: Sequence[Dict], metric: str) -> str:
    """A readable table per probe: rank, gallery id/type/view, distance, plus the top ids."""
    lines = []
    for result in results:
        p = result["probe"]
        label = "/".join(x for x in (p["id"], p["type"], p["view"]) if x)
        lines.append(f"probe {label}  ({p['path']})")
        rows = [(str(r), m["id"], m["type"] or "-", m["view"] or "-", f"{m['distance']:.4f}")
                for r, m in enumerate(result["sequences"], 1)]
        head = ("rank", "gallery id", "type", "view", f"{metric} dist")
        widths = [max(len(row[c]) for row in rows + [head]) for c in range(len(head))]
        for row in [head] + rows:
            lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
        ids = ", ".join(f"{m['id']} ({m['distance']:.4f})" for m in result["identities"])
        lines.append(f"  top identities: {ids}")
        lines.append("")
    return "\n".join(lines).rstrip()


def write_json(path: Path, results: Sequence[Dict], args) -> None:
    """The ranking plus how it was made (config, checkpoint, metric, folders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"cfgs": str(args.cfgs), "ckpt": args.ckpt, "metric": args.metric, "topk": args.topk,
           "gallery": str(args.gallery), "probe": str(args.probe), "probes": list(results)}
    path.write_text(json.dumps(doc, indent=2))


__all__: Tuple[str, ...] = ("EmbeddingSet", "Match", "SequenceEntry", "add_arguments", "distance",
                            "embed_folder", "embed_sequence", "embed_source", "embed_video",
                            "find_sequences", "format_tables", "main", "rank")
