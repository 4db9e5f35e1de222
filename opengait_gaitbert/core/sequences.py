"""Sequence bookkeeping: OpenGait's two batch layouts, frames, padding and positions.

OpenGait hands a model silhouettes in one of two layouts:

- fixed-length clips (training): ``[n, s, h, w]`` with ``seqL = None``;
- packed whole sequences (testing, ``all_ordered``): ``[1, sum(seqL), h, w]`` with
  ``seqL = [[l_1, ..., l_b]]`` giving each sequence's length.

The network works per frame (convolutions) on ``[F, ...]`` with F the number of
valid frames, and per sequence (temporal context, pooling) on a padded
``[b, L, ...]`` view with a validity mask. :class:`SequenceLayout` converts
between the two without ever mixing frames of different sequences.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Union

import numpy as np
import torch
from einops import rearrange

from .errors import DataError

SeqL = Optional[Union[torch.Tensor, Sequence[int], Sequence[Sequence[int]]]]


@dataclass(frozen=True)
class SequenceLayout:
    """Where each sequence's frames sit.

    Attributes:
        lengths: frames of each of the b sequences.
        packed: True for OpenGait's packed ``seqL`` layout, False for ``[n, s]`` clips.
        clip_shape: ``(n, s)`` of the input tensor.
    """

    lengths: List[int]
    packed: bool
    clip_shape: tuple

    @classmethod
    def from_input(cls, n: int, s: int, seqL: SeqL) -> "SequenceLayout":
        if seqL is None:
            if s < 1:
                raise DataError(f"GaitBERT got an empty batch of clips [n={n}, s={s}].")
            return cls([s] * n, False, (n, s))
        lengths = _lengths_from_seqL(seqL)
        if n != 1:
            raise DataError(f"GaitBERT: with seqL the batch must be packed as [1, sum(seqL), h, w]; got n={n}.")
        if any(length < 1 for length in lengths):
            raise DataError(f"GaitBERT: seqL holds an empty sequence: {lengths}. "
                            "Remove sequences without frames from the dataset.")
        if sum(lengths) > s:
            raise DataError(f"GaitBERT: seqL sums to {sum(lengths)} frames but the input holds {s}.")
        return cls(lengths, True, (n, s))

    @property
    def num_sequences(self) -> int:
        return len(self.lengths)

    @property
    def max_length(self) -> int:
        return max(self.lengths)

    @property
    def uniform(self) -> bool:
        """All sequences equally long: padding is a plain reshape."""
        return len(set(self.lengths)) == 1

    def windowed(self, window: int) -> "SequenceLayout":
        """The same frames cut into consecutive windows of at most ``window`` frames.

        Temporal attention and positions work per window, so inference is linear in
        the sequence length and never sees positions beyond those of training clips.
        """
        lengths = []
        for length in self.lengths:
            lengths += [window] * (length // window) + ([length % window] if length % window else [])
        return SequenceLayout(lengths, True, (1, sum(lengths)))

    def to_frames(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, s, ...]`` input -> ``[F, ...]`` valid frames, sequence after sequence."""
        if self.packed:
            return x[0, :sum(self.lengths)]
        return rearrange(x, "n s ... -> (n s) ...")

    def from_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """``[F, ...]`` -> the input's layout ``[n, s, ...]`` (packed: zeros after sum(seqL))."""
        if not self.packed:
            return rearrange(frames, "(n s) ... -> n s ...", n=self.clip_shape[0])
        out = frames.new_zeros((1, self.clip_shape[1]) + tuple(frames.shape[1:]))
        out[0, :frames.shape[0]] = frames
        return out

    def pad(self, frames: torch.Tensor) -> torch.Tensor:
        """``[F, ...]`` -> ``[b, L, ...]``, zeros after each sequence's end."""
        if self.uniform:
            return rearrange(frames, "(b l) ... -> b l ...", b=self.num_sequences)
        return torch.nn.utils.rnn.pad_sequence(list(frames.split(self.lengths)), batch_first=True)

    def unpad(self, padded: torch.Tensor) -> torch.Tensor:
        """``[b, L, ...]`` -> ``[F, ...]``, dropping the padding."""
        if self.uniform:
            return rearrange(padded, "b l ... -> (b l) ...")
        return torch.cat([seq[:length] for seq, length in zip(padded, self.lengths)])

    def valid_mask(self, device: torch.device) -> torch.Tensor:
        """``[b, L]`` bool, True on real frames."""
        lengths = torch.tensor(self.lengths, device=device)
        return torch.arange(self.max_length, device=device)[None] < lengths[:, None]

    def positions(self, device: torch.device) -> torch.Tensor:
        """``[F]`` index of each frame within its own sequence (restarts at 0 per sequence)."""
        lengths = torch.tensor(self.lengths, device=device)
        starts = torch.cumsum(lengths, 0) - lengths
        frame_index = torch.arange(int(lengths.sum()), device=device)
        return frame_index - torch.repeat_interleave(starts, lengths)


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
