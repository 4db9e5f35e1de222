"""Sequence bookkeeping: OpenGait's two batch layouts, frames, padding and windows.

OpenGait hands a model silhouettes in one of two layouts:

- fixed-length clips (training, and one sequence at inference): ``[n, s, h, w]``
  with ``seqL = None``;
- packed whole sequences (testing, ``all_ordered``): ``[1, sum(seqL), h, w]`` with
  ``seqL = [[l_1, ..., l_b]]`` giving each sequence's length.

The network works per frame (convolutions) on ``[F, ...]`` with F the number of
valid frames, and per sequence or attention window (temporal context, pooling) on
a padded ``[b, L, ...]`` view with a validity mask. A layout converts between the
two without ever mixing frames of different sequences:

- :class:`ClipLayout` does it with shape arithmetic only (reshape, pad, ``arange``),
  so a trace (``torch.jit.trace``, ``torch.export``) keeps ``s`` dynamic: the
  exported encoder is the core's own path, cut into the same windows;
- :class:`PackedLayout` reads the Python list of lengths, which a trace would
  freeze; it serves OpenGait's packed test batches, never an export.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from .errors import DataError

SeqL = Optional[Union[torch.Tensor, Sequence[int], Sequence[Sequence[int]]]]
#: A size: an int in eager mode, a 0-dim tensor under ``torch.jit.trace``, a SymInt under ``torch.export``.
Size = Union[int, torch.Tensor, torch.SymInt]


class SequenceLayout(ABC):
    """Where each sequence's frames sit; :meth:`from_input` picks the layout of a batch.

    A layout turns the frames ``[F, ...]`` into ``b`` padded rows ``[b, L, ...]`` and back.
    After :meth:`windowed` a row is one attention window instead of a whole sequence.
    """

    @staticmethod
    def from_input(n: Size, s: Size, seqL: SeqL) -> "SequenceLayout":
        """The layout of an ``[n, s, h, w]`` input with OpenGait's ``seqL`` (None for clips).

        Raises:
            DataError: an empty batch, or ``seqL`` that does not fit the input.
        """
        if seqL is None:
            if s < 1:
                raise DataError(f"GaitBERT got an empty batch of clips [n={n}, s={s}].")
            return ClipLayout(n, s)
        lengths = _lengths_from_seqL(seqL)
        if n != 1:
            raise DataError(f"GaitBERT: with seqL the batch must be packed as [1, sum(seqL), h, w]; got n={n}.")
        if any(length < 1 for length in lengths):
            raise DataError(f"GaitBERT: seqL holds an empty sequence: {lengths}. "
                            "Remove sequences without frames from the dataset.")
        if sum(lengths) > s:
            raise DataError(f"GaitBERT: seqL sums to {sum(lengths)} frames but the input holds {s}.")
        return PackedLayout(lengths, s)

    @abstractmethod
    def windowed(self, window: int) -> "SequenceLayout":
        """The same frames with each sequence cut into consecutive windows of at most ``window``
        frames (the last may be shorter); a row of :meth:`pad` is then one window.

        Temporal attention and offsets work per window, so inference is linear in the
        sequence length and never sees offsets beyond those of training clips.
        """

    @abstractmethod
    def to_frames(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, s, ...]`` input -> ``[F, ...]`` valid frames, sequence after sequence."""

    @abstractmethod
    def from_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """``[F, ...]`` -> the input's layout ``[n, s, ...]`` (packed: zeros after sum(seqL))."""

    @abstractmethod
    def pad(self, frames: torch.Tensor) -> torch.Tensor:
        """``[F, ...]`` -> ``[b, L, ...]`` rows (sequences or windows), zeros after each row's end."""

    @abstractmethod
    def unpad(self, padded: torch.Tensor) -> torch.Tensor:
        """``[b, L, ...]`` -> ``[F, ...]``, dropping the padding."""

    @abstractmethod
    def valid_mask(self, device: torch.device) -> Optional[torch.Tensor]:
        """``[b, L]`` bool, True on real frames; None when no row has padding."""


class ClipLayout(SequenceLayout):
    """``n`` clips of ``s`` frames each (``seqL`` None), optionally cut into windows.

    Every size comes from shape arithmetic on ``n`` and ``s``, never from a Python
    list or a branch on their values, so that ``torch.jit.trace`` and ``torch.export``
    record ops that follow ``s``. Windows of a clip longer than ``window`` hold
    ``window`` frames, the last one padded; a clip up to ``window`` frames is one
    window of ``s`` frames, unpadded (short training clips do not pay for a full window).
    """

    def __init__(self, n: Size, s: Size, window: Optional[int] = None):
        self.n, self.s = n, s
        self.length = s if window is None else _at_most(s, window)  # L: frames per row
        self.rows_per_clip = 1 if window is None else (s + self.length - 1) // self.length
        self.window = window

    def windowed(self, window: int) -> "ClipLayout":
        return ClipLayout(self.n, self.s, window)

    def to_frames(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(0, 1)

    def from_frames(self, frames: torch.Tensor) -> torch.Tensor:
        return frames.unflatten(0, (self.n, self.s))

    def pad(self, frames: torch.Tensor) -> torch.Tensor:
        clips = frames.unflatten(0, (self.n, self.s))  # [n, s, ...]
        if self.window is None:
            return clips
        tail = self.rows_per_clip * self.length - self.s  # padding frames after each clip
        clips = F.pad(clips, (0, 0) * (clips.dim() - 2) + (0, tail))  # [n, rows * L, ...]
        return clips.flatten(0, 1).unflatten(0, (self.n * self.rows_per_clip, self.length))

    def unpad(self, padded: torch.Tensor) -> torch.Tensor:
        if self.window is None:
            return padded.flatten(0, 1)
        clips = padded.flatten(0, 1).unflatten(0, (self.n, self.rows_per_clip * self.length))
        return clips.narrow(1, 0, self.s).flatten(0, 1)

    def valid_mask(self, device: torch.device) -> Optional[torch.Tensor]:
        if self.window is None:
            return None
        # Built even when s fills its windows exactly: a trace must not branch on s.
        frame = torch.arange(self.rows_per_clip * self.length, device=device)
        valid = (frame < self.s).unflatten(0, (self.rows_per_clip, self.length))  # [rows, L]
        return valid.repeat(self.n, 1)


class PackedLayout(SequenceLayout):
    """OpenGait's packed sequences: ``[1, total, ...]`` holding sequences of ``lengths`` frames
    (frames after ``sum(lengths)`` are ignored). Reads the lengths in Python, as OpenGait
    gives them at test time."""

    def __init__(self, lengths: List[int], total: int):
        self.lengths, self.total = lengths, total

    @property
    def uniform(self) -> bool:
        """All rows equally long: padding is a plain reshape."""
        return len(set(self.lengths)) == 1

    def windowed(self, window: int) -> "PackedLayout":
        lengths = []
        for length in self.lengths:
            lengths += [window] * (length // window) + ([length % window] if length % window else [])
        return PackedLayout(lengths, sum(lengths))

    def to_frames(self, x: torch.Tensor) -> torch.Tensor:
        return x[0, :sum(self.lengths)]

    def from_frames(self, frames: torch.Tensor) -> torch.Tensor:
        out = frames.new_zeros((1, self.total) + tuple(frames.shape[1:]))
        out[0, :frames.shape[0]] = frames
        return out

    def pad(self, frames: torch.Tensor) -> torch.Tensor:
        if self.uniform:
            return frames.unflatten(0, (len(self.lengths), -1))
        return torch.nn.utils.rnn.pad_sequence(list(frames.split(self.lengths)), batch_first=True)

    def unpad(self, padded: torch.Tensor) -> torch.Tensor:
        if self.uniform:
            return padded.flatten(0, 1)
        return torch.cat([seq[:length] for seq, length in zip(padded, self.lengths)])

    def valid_mask(self, device: torch.device) -> Optional[torch.Tensor]:
        if self.uniform:
            return None
        lengths = torch.tensor(self.lengths, device=device)
        return torch.arange(max(self.lengths), device=device)[None] < lengths[:, None]


def _at_most(size: Size, bound: int) -> Size:
    """``min(size, bound)`` that stays a graph value when ``size`` is traced.

    ``torch.jit.trace`` hands sizes as 0-dim tensors (Python's ``min`` would turn
    them into the example's constant); ``torch.export`` hands SymInts, for which
    ``torch.sym_min`` records the minimum instead of guarding on one branch.
    """
    if isinstance(size, torch.Tensor):
        return size.clamp(max=bound)
    return torch.sym_min(size, bound)


def _lengths_from_seqL(seqL: SeqL) -> List[int]:
    """OpenGait passes ``seqL`` as an int tensor ``[1, b]``; accept plain lists too."""
    if isinstance(seqL, torch.Tensor):
        values = seqL.reshape(-1).tolist()
    else:
        values = list(seqL[0]) if len(seqL) and isinstance(seqL[0], (list, tuple)) else list(seqL)
    return [int(v) for v in values]


def split_packed(packed: np.ndarray, seqL) -> List[np.ndarray]:
    """A packed ``[sum(seqL), ...]`` array -> one array per sequence."""
    lengths = [int(v) for v in np.asarray(seqL).reshape(-1)]
    if len(packed) != sum(lengths):
        raise DataError(f"a packed batch holds {len(packed)} frames but seqL sums to {sum(lengths)}.")
    return np.split(packed, np.cumsum(lengths)[:-1])


class _PerSequence:
    """A transform applied to each sequence of a packed ``[sum(seqL), ...]`` array on its own."""

    def __init__(self, transform, lengths):
        self.transform, self.lengths = transform, lengths

    def __call__(self, packed: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(self.transform(seq)) for seq in split_packed(packed, self.lengths)],
                              axis=0)


@contextmanager
def per_sequence(trfs: List[Callable], seqL) -> Iterator[None]:
    """While active, each transform in ``trfs`` (OpenGait's per-feature list) runs per sequence.

    Without ``seqL`` (fixed-length clips) the transforms already see one sequence each.
    The list is edited in place because OpenGait's ``inputs_pretreament`` reads it from
    the model; it is restored on exit.
    """
    if seqL is None:
        yield
        return
    originals = list(trfs)
    trfs[:] = [_PerSequence(trf, seqL) for trf in originals]
    try:
        yield
    finally:
        trfs[:] = originals
