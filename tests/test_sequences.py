"""Sequence layouts: the traceable clip windows equal the packed (list-driven) windows, and
packed sequences are embedded as if each ran alone, across window boundaries."""
import pytest
import torch

from opengait_gaitbert.core import GaitBERTNet, NetworkConfig
from opengait_gaitbert.core.sequences import ClipLayout, PackedLayout, SequenceLayout
from tiny_model import UNET_RECIPE

WINDOW = 4


def rows(layout: SequenceLayout, frames: torch.Tensor):
    """(padded rows [b, L, ...] with zeros on padding, validity [b, L]; None -> all valid)."""
    padded = layout.pad(frames)
    valid = layout.valid_mask(frames.device)
    if valid is None:
        valid = torch.ones(padded.shape[:2], dtype=torch.bool)
    return padded, valid


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("s", [1, 3, 4, 5, 8, 13])
def test_clip_windows_are_the_packed_windows(n, s):
    """Clips cut by shape arithmetic give the same windows, padding and mask as the same clips
    packed, whose windows are listed in Python: ``[WINDOW] * (s // WINDOW)`` + the rest."""
    frames = torch.randn(n * s, 2, 3)
    clips, packed = ClipLayout(n, s).windowed(WINDOW), PackedLayout([s] * n, n * s).windowed(WINDOW)
    assert packed.lengths == ([WINDOW] * (s // WINDOW) + ([s % WINDOW] if s % WINDOW else [])) * n
    (clip_rows, clip_valid), (packed_rows, packed_valid) = rows(clips, frames), rows(packed, frames)
    assert torch.equal(clip_valid, packed_valid)
    assert torch.equal(clip_rows, packed_rows)
    assert torch.equal(clips.unpad(clip_rows), frames)


def test_clips_up_to_a_window_are_not_padded():
    """A 3-frame training clip attends over 3 frames, not a padded window of 4."""
    padded, valid = rows(ClipLayout(2, 3).windowed(WINDOW), torch.randn(6, 5))
    assert padded.shape == (2, 3, 5) and valid.all()


@pytest.mark.parametrize("temporal", ["transformer", "conv"])
def test_packed_sequences_across_windows_equal_each_alone(temporal):
    """With windows of 4 frames, each packed sequence (1 frame, exactly two windows, partial
    last windows) gets the embedding and reconstruction it gets alone."""
    torch.manual_seed(0)
    net = GaitBERTNet(NetworkConfig(**{**UNET_RECIPE, "temporal": temporal}, channels=[4, 8], embed_stride=2,
                                    temporal_dim=16, temporal_layers=2, temporal_heads=2, temporal_window=WINDOW,
                                    embed_dim=8, class_num=5)).eval()
    lengths = [9, 1, 8, 6]
    seqs = [torch.rand(1, length, 64, 44) for length in lengths]
    with torch.no_grad():
        packed = {**net(torch.cat(seqs, dim=1), [lengths]), **net(torch.cat(seqs, dim=1), [lengths], reconstruct=True)}
        alone = [{**net(seq), **net(seq, reconstruct=True)} for seq in seqs]
    torch.testing.assert_close(packed["embeddings"], torch.cat([out["embeddings"] for out in alone]),
                               atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed["reconstruction"], torch.cat([out["reconstruction"] for out in alone], 1),
                               atol=1e-5, rtol=1e-4)
