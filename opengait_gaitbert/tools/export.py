"""``opengait-gaitbert export``: the encoder-only inference path as ONNX or TorchScript.

The exported graph is ``GaitBERTNet.embed`` itself: one sequence of preprocessed
silhouettes ``sils [1, s, 64, 44]`` (float in [0, 1], see
``tools.network_input.preprocess``) -> its embedding ``[1, e, p]`` through the frame
embedding, U-Net encoder, temporal context and the embedding head; the decoder is
not part of it. ``s`` is dynamic: for clips without ``seqL`` the core cuts attention
windows and builds their masks with shape arithmetic only
(``core.sequences.ClipLayout``), which both exporters record as ops on ``s``.

- ONNX: ``torch.onnx.export(..., dynamo=True)``, i.e. ``torch.export`` with ``s`` a
  symbolic dimension, then onnxscript's translation. The older TorchScript-based
  ONNX exporter cannot be used: it bakes the example's length into a reshape inside
  ``nn.MultiheadAttention``.
- TorchScript: ``torch.jit.trace``, which hands the core sizes as tensors, so the
  windowing follows ``s`` in the saved graph.

After export the file is checked against ``GaitBERTNet.embed`` on several lengths
(``--check-lengths``); a difference above ``TOLERANCE`` fails the command.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Dict, List, Sequence

from .checkpoint import describe_model, load_model
from .model_arguments import add_model_arguments
from ..core.errors import DataError, GaitBERTError

FORMATS = ("onnx", "torchscript")
TOLERANCE = 1e-4  # max abs difference allowed in fp32
OPSET = 18  # the dynamo exporter's own opset
TRACE_LENGTH = 16  # sequence length of the example input used to trace
INPUT_NAME, OUTPUT_NAME = "sils", "embeddings"
JIT_LOAD_DEPRECATED = r"`torch\.jit\.load` is deprecated"  # the start of torch's notice, a regex

EPILOG = f"""examples:
  opengait-gaitbert export --cfgs my.yaml --ckpt GaitBERT-60000.pt --format onnx --out gaitbert.onnx
  opengait-gaitbert export --cfgs my.yaml --ckpt GaitBERT-60000.pt --format torchscript --out gaitbert.pt

The exported model takes "{INPUT_NAME}" [1, s, 64, 44] float (OpenGait-aligned
silhouettes after BaseSilCuttingTransform, in [0, 1]) with any s >= 1 and returns
"{OUTPUT_NAME}" [1, embed_dim, parts]. ONNX opset {OPSET}; run it with
onnxruntime. After export it is compared with PyTorch on --check-lengths.
"""


class ExportError(GaitBERTError):
    """Export failed, or the exported model disagrees with PyTorch."""


def add_arguments(parser) -> None:
    """Add the ``export`` options to an argparse parser."""
    add_model_arguments(parser)
    parser.add_argument("--format", required=True, choices=FORMATS, help="onnx or torchscript")
    parser.add_argument("--out", required=True, help="output file (.onnx or .pt)")
    parser.add_argument("--check-lengths", default="1,17,47,95",
                        help="comma-separated sequence lengths to verify (default: 1,17,47,95: one frame, "
                             "less than a window, and several windows with a partial last one)")


def main(args) -> int:
    """Export and verify; 0 when every length agrees within ``TOLERANCE``, else 1.

    User errors (bad lengths, config, checkpoint) propagate as ``GaitBERTError``:
    the CLI prints them and exits 2.
    """
    lengths = parse_lengths(args.check_lengths)
    if str(args.device) != "cpu":
        raise DataError("--device: export runs on cpu (the checks use onnxruntime's CPU provider).")
    net, _ = load_model(args.cfgs, args.ckpt, "cpu")
    print(describe_model(net))
    out = export(net, args.format, args.out)
    print(f"wrote {out} ({args.format}, input {INPUT_NAME} [1, s, "
          f"{net.config.frame_size[0]}, {net.config.frame_size[1]}], s dynamic)")
    return report(verify(net, args.format, out, lengths))


def parse_lengths(text: str) -> List[int]:
    """``"30,60,120"`` -> ``[30, 60, 120]``; each >= 1."""
    try:
        lengths = [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError as err:
        raise DataError(f"--check-lengths {text!r}: expected comma-separated integers, "
                        "e.g. 30,60,120.") from err
    if not lengths or min(lengths) < 1:
        raise DataError(f"--check-lengths {text!r}: give at least one length, each >= 1.")
    return lengths


def report(diffs: Dict[int, float]) -> int:
    """Print the max abs difference per length; 1 if any exceeds ``TOLERANCE``."""
    bad = [s for s, d in diffs.items() if not d <= TOLERANCE]
    for s, d in diffs.items():
        print(f"  s={s:<5d} max |exported - pytorch| = {d:.3e}  {'FAIL' if s in bad else 'ok'}")
    if bad:
        print(f"error: the exported model differs from PyTorch by more than {TOLERANCE:g} at "
              f"lengths {bad}; do not use this file.", file=sys.stderr)
        return 1
    print(f"verified: within {TOLERANCE:g} of PyTorch at every length")
    return 0


# --------------------------------------------------------------------------
# The exported graph
# --------------------------------------------------------------------------

def embedding_graph(net):
    """``net.embed`` as the module to export (eval mode): ``sils [1, s, h, w]`` -> ``[1, e, p]``.

    The exporters take an ``nn.Module`` and call its ``forward``; this one's forward is
    ``net.embed`` and nothing else, so the export cannot drift from the core.
    """
    import torch.nn as nn

    class NetEmbed(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, sils):
            return self.net.embed(sils)

    return NetEmbed(net.eval()).eval()


def example_input(net, length: int = TRACE_LENGTH, seed: int = 0):
    """Silhouette-like input ``[1, length, h, w]``: random blobs in [0, 1]."""
    import torch

    g = torch.Generator().manual_seed(seed)
    h, w = net.config.frame_size
    return (torch.rand(1, length, h, w, generator=g) > 0.6).float()


def export(net, fmt: str, out) -> Path:
    """Write the encoder path of ``net`` to ``out`` as ``onnx`` or ``torchscript``.

    Returns:
        The output path.
    Raises:
        ExportError: unknown format or the exporter failed (the message says which step).
    """
    import torch

    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: allowed {', '.join(FORMATS)}.")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    graph = embedding_graph(net)
    example = example_input(net)
    # nn.MultiheadAttention's fused eval kernel (_native_multi_head_attention) has no ONNX
    # form; off, the same attention is recorded as plain matmul/softmax ops.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        _write(graph, example, fmt, out)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return out


def _write(graph, example, fmt: str, out: Path) -> None:
    import torch

    with torch.no_grad():
        if fmt == "onnx":
            _export_onnx(graph, example, out)
        else:
            with warnings.catch_warnings():
                # jit.trace's deprecation notice, and its TracerWarnings on the core's input
                # checks (s >= 1, frame size), which hold for every input the file accepts.
                warnings.simplefilter("ignore")
                torch.jit.trace(graph, example, check_trace=False).save(str(out))


def _export_onnx(graph, example, out: Path) -> None:
    import torch
    from torch.fx.experimental import _config as shape_config

    length = torch.export.Dim("s", min=1)
    try:
        # Size-oblivious: the example's window count (1 at TRACE_LENGTH) and length are
        # not taken as facts about every s (torch.export would otherwise specialise
        # on sizes being 1 or not and refuse s = 1 or s beyond one window).
        with warnings.catch_warnings(), shape_config.patch(backed_size_oblivious=True):
            warnings.simplefilter("ignore")  # the exporter's notes on deprecated APIs inside torch
            torch.onnx.export(graph, (example,), str(out), dynamo=True, opset_version=OPSET,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_shapes={INPUT_NAME: {1: length}}, verbose=False,
                              external_data=False)  # one file, as users move it
    except (RuntimeError, torch.onnx.errors.OnnxExporterError) as err:
        raise ExportError(f"ONNX export to {out} failed: {err}") from err


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------

def load_exported(fmt: str, path):
    """A callable ``numpy [1, s, h, w] float32 -> numpy [1, e, p]`` running the exported file."""
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda x: session.run(None, {INPUT_NAME: x})[0]
    import torch

    with warnings.catch_warnings():
        # jit.load's deprecation notice (TorchScript is the format asked for, and jit.load its only
        # loader): a DeprecationWarning up to torch 2.13, a FutureWarning from 2.14; so by its text.
        warnings.filterwarnings("ignore", message=JIT_LOAD_DEPRECATED)
        module = torch.jit.load(str(path), map_location="cpu")

    def run(x):
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()
    return run


def verify(net, fmt: str, path, lengths: Sequence[int]) -> Dict[int, float]:
    """Max abs difference between the exported file and ``net.embed`` per sequence length."""
    import numpy as np
    import torch

    run = load_exported(fmt, path)
    diffs = {}
    net.eval()
    for index, length in enumerate(lengths):
        x = example_input(net, length, seed=index + 1)
        with torch.no_grad():
            expected = net.embed(x, None).numpy()
        got = run(x.numpy())
        if got.shape != expected.shape:
            raise ExportError(f"{path}: output shape {got.shape} at s={length}, expected {expected.shape}.")
        diffs[length] = float(np.abs(got - expected).max())
    return diffs
