"""``opengait-gaitbert export``: the encoder-only inference path as ONNX or TorchScript.

The exported graph maps one sequence of preprocessed silhouettes
``sils [1, s, 64, 44]`` (float in [0, 1], see ``tools.checkpoint.preprocess``) to
its embedding ``[1, e, p]``: frame embedding, U-Net encoder, temporal context
and the embedding head; the decoder is not part of it. ``s`` is dynamic.

Why a wrapper (:class:`EmbeddingGraph`) rather than ``GaitBERTNet.embed`` itself:
the core's batching bookkeeping (``SequenceLayout``) builds frame positions and
padding from Python lists of sequence lengths, which a trace records as
constants, and ``nn.MultiheadAttention`` is exported by the ONNX tracer with the
sequence length baked into a reshape. The wrapper restates the same
computation for a single unpadded sequence with every shape taken from the
tensors, reusing the core's modules and weights. After export the file is
checked against ``GaitBERTNet.embed`` on several lengths (``--check-lengths``);
a difference above ``TOLERANCE`` fails the command.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Dict, List, Sequence

from .checkpoint import add_model_arguments, describe_model, load_model
from ..core.errors import DataError, GaitBERTError

FORMATS = ("onnx", "torchscript")
TOLERANCE = 1e-4  # max abs difference allowed in fp32
OPSET = 17
TRACE_LENGTH = 16  # sequence length of the example input used to trace
INPUT_NAME, OUTPUT_NAME = "sils", "embeddings"

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

def _embedding_graph_class():
    """Define :class:`EmbeddingGraph` on first use (keeps torch out of module import)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from ..core.network import NoTemporalContext, TemporalConv, TemporalTransformer

    class EmbeddingGraph(nn.Module):
        """``GaitBERTNet.embed`` for one sequence, with no Python-side shape bookkeeping.

        Input ``sils [1, s, h, w]`` -> embeddings ``[1, e, p]``. Shares the net's modules.
        """

        def __init__(self, net):
            super().__init__()
            self.net = net
            if not isinstance(net.temporal, (TemporalTransformer, TemporalConv, NoTemporalContext)):
                raise ExportError(f"export does not know the temporal module {type(net.temporal).__name__}.")

        def forward(self, sils: torch.Tensor) -> torch.Tensor:
            net = self.net
            frames = net._pad(sils[0])  # [s, H, W]
            index = torch.ones_like(frames[:, 0, 0]).cumsum(0) - 1  # [s]: 0..s-1, traced
            window = net.config.temporal_window
            positions = torch.remainder(index, window)  # position within its attention window
            x = net.frame_embedding(frames)  # [s, c0, H, W]; no time information per frame
            x, _ = net.encoder(x)  # [s, cK, h', w']
            x = net.spatial(x)  # per frame, no time information
            x = self.temporal(x, positions, torch.div(index, window, rounding_mode="floor"))
            pooled = x.max(dim=0, keepdim=True).values  # [1, cK, h', w']: temporal max pooling
            return net.head.project(net.head.horizontal_pyramid(pooled))  # [1, e, p]

        def temporal(self, x: torch.Tensor, positions: torch.Tensor, windows: torch.Tensor) -> torch.Tensor:
            """``[s, c, h, w]`` -> same, with the net's temporal context (residual).

            The core cuts long sequences into attention windows; here one block-diagonal
            mask over ``windows`` (each frame's window index) does the same for any s.
            """
            module = self.net.temporal
            if isinstance(module, TemporalTransformer):
                c, h, w = x.shape[1:]
                tokens = x.permute(2, 3, 0, 1).reshape(h * w, -1, c)  # [(h w), s, c]
                tokens = module.proj_in(tokens)
                blocked = (windows[:, None] != windows[None, :]).to(x.dtype) * torch.finfo(x.dtype).min
                offsets = (positions[None, :] - positions[:, None]).clamp(1 - module.window, module.window - 1)
                blocked = blocked + module.offset_bias[(offsets + module.window - 1).long()].to(x.dtype)
                for layer in module.encoder.layers:
                    tokens = _encoder_layer(layer, tokens, blocked)
                if module.encoder.norm is not None:
                    tokens = module.encoder.norm(tokens)
                tokens = module.proj_out(tokens)
                return x + tokens.reshape(h, w, -1, c).permute(2, 3, 0, 1)
            if isinstance(module, TemporalConv):
                y = x.permute(1, 0, 2, 3)[None]  # [1, c, s, h, w]
                for conv in module.layers:
                    y = y + F.relu(conv(y))
                return y[0].permute(1, 0, 2, 3)
            return x

    def _attention(attn: nn.MultiheadAttention, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """Self-attention of ``nn.MultiheadAttention`` (batch_first) on ``[B, s, d]``, reshapes via -1.

        ``blocked [s, s]`` is added to the scores: a very negative value where frames may not attend.
        """
        d = x.shape[-1]
        heads = attn.num_heads
        q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (t.reshape(t.shape[0], -1, heads, d // heads).transpose(1, 2) for t in (q, k, v))
        weights = torch.softmax(q @ k.transpose(-2, -1) * (d // heads) ** -0.5 + blocked, dim=-1)  # [B, heads, s, s]
        out = (weights @ v).transpose(1, 2).reshape(x.shape[0], -1, d)
        return attn.out_proj(out)

    def _encoder_layer(layer: nn.TransformerEncoderLayer, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """``nn.TransformerEncoderLayer`` in eval mode (dropout off), ``[B, s, d]``."""
        def feed_forward(y):
            return layer.linear2(layer.activation(layer.linear1(y)))
        if layer.norm_first:
            x = x + _attention(layer.self_attn, layer.norm1(x), blocked)
            return x + feed_forward(layer.norm2(x))
        x = layer.norm1(x + _attention(layer.self_attn, x, blocked))
        return layer.norm2(x + feed_forward(x))

    return EmbeddingGraph


def embedding_graph(net):
    """The export wrapper around ``net`` (eval mode): ``[1, s, h, w]`` -> ``[1, e, p]``."""
    return _embedding_graph_class()(net.eval()).eval()


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
                warnings.simplefilter("ignore", FutureWarning)  # jit.trace's deprecation notice
                torch.jit.trace(graph, example, check_trace=False).save(str(out))


def _export_onnx(graph, example, out: Path) -> None:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation/tracer notes
            torch.onnx.export(graph, (example,), str(out), dynamo=False, opset_version=OPSET,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: {1: "s"}})
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
        warnings.simplefilter("ignore", FutureWarning)  # jit.load's deprecation notice
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
