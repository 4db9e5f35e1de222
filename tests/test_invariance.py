"""The video embedding does not depend on which absolute frames a probe holds.

GaitBase and GaitSet hold up on short, thinned or shifted probes because the
embedding is a max over time of per-frame features. GaitBERT keeps that
property: frames are embedded with no knowledge of their index, and order is
known only inside the temporal context. These tests fail when a per-frame
positional encoding (or anything else tied to the absolute frame index) comes
back before the CNN.
"""
import numpy as np
import pytest
import torch

from tiny_model import UNET_RECIPE, perturbed
from opengait_gaitbert.core import GaitBERTNet, NetworkConfig
from opengait_gaitbert.data.synth import synth_sequence

NET = dict(**UNET_RECIPE, channels=[8, 32], embed_stride=2, temporal_dim=32, temporal_layers=1, temporal_heads=4,
           embed_dim=16, class_num=4, temporal_window=30)
IDS = (1, 2, 3, 4)
FRAMES = 40


def untrained_net(**overrides) -> GaitBERTNet:
    torch.manual_seed(0)
    return GaitBERTNet(NetworkConfig(**{**NET, **overrides})).eval()


class FramesAlone(torch.nn.Module):
    """In place of the temporal context: each frame's features see no other frame, so what a test
    measures is the per-frame path and the temporal max alone."""

    def forward(self, x: torch.Tensor, layout) -> torch.Tensor:
        return x


def per_frame_net() -> GaitBERTNet:
    net = untrained_net()
    net.temporal = FramesAlone()
    return net


@pytest.fixture(scope="module")
def walks():
    """id -> ``[40, 64, 44]`` float walk (nm-01, view 090), cut like OpenGait's BaseSilCuttingTransform."""
    return {i: torch.from_numpy(synth_sequence(0, i, "nm-01", "090", FRAMES)[:, :, 10:-10] / 255.0).float()
            for i in IDS}


def embed(net: GaitBERTNet, frames: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net.embed(frames[None]).flatten()


def test_per_frame_features_ignore_the_frame_index():
    """Without temporal context the embedding is a max over per-frame features: any
    reordering, shift or repetition of the same frames gives the same embedding."""
    net = per_frame_net()
    x = torch.rand(12, 64, 44)
    reference = embed(net, x)
    for variant in (x.flip(0), x.roll(5, 0), torch.cat([x[7:], x[:7], x[:3]])):
        torch.testing.assert_close(embed(net, variant), reference, rtol=1e-5, atol=1e-5)


CORRUPTIONS = {
    "shifted by 7 frames": lambda x: x[7:],
    "every 2nd frame": lambda x: x[::2],
    "first 15 frames": lambda x: x[:15],
    "frames 20-34 only": lambda x: x[20:35],
}


@pytest.mark.parametrize("temporal", ["transformer", "conv"])
@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupted_walk_stays_nearest_to_itself(walks, temporal, corruption):
    """Each id's shifted / thinned / cut walk is nearer to its own full walk than to
    any other id's, with no training: the invariance comes from the construction."""
    net = untrained_net(temporal=temporal)
    gallery = torch.stack([embed(net, walks[i]) for i in IDS])  # [ids, e*p]
    for row, i in enumerate(IDS):
        probe = embed(net, CORRUPTIONS[corruption](walks[i]))
        dist = (gallery - probe).norm(dim=1)
        others = np.delete(dist.numpy(), row)
        assert dist[row] < others.min(), (
            f"id {i} {corruption}: distance to itself {dist[row]:.4f}, nearest other {others.min():.4f}")


def test_parts_a_static_occluder_hides_do_not_change_the_ranking(walks):
    """With part_visibility, the strips an occluder blanks in every frame add the same distance to
    every gallery walk: the probe's ranking by OpenGait's distance (per-part Euclidean, mean over
    parts) is its ranking by the visible parts alone. Without it their distance differs per walk."""
    probe = walks[1].clone()
    probe[:, :32] = 0  # the top half of the frame hidden in every frame: strips 0-7 blank

    def ranking(net):
        with torch.no_grad():
            gallery = torch.stack([net.embed(walks[i][None])[0] for i in IDS[1:]])  # [ids, e, p]
            parts = (gallery - net.embed(probe[None])[0]).norm(dim=1)  # [ids, p]
        return parts.mean(1).argsort().tolist(), parts[:, 8:].mean(1).argsort().tolist(), parts[:, :8]

    whole, visible, blank = ranking(untrained_net(part_visibility=True))
    assert whole == visible
    torch.testing.assert_close(blank, torch.ones_like(blank))  # unit gallery parts, zero probe parts
    _, _, blank = ranking(untrained_net())  # raw: the blank parts' distance differs per gallery walk
    spread = blank.mean(1)
    assert (spread.max() - spread.min()) / spread.mean() > 0.01, spread


def test_empty_frames_are_left_out_of_the_temporal_max():
    """A blanked run (frames with no foreground: an occluder over the whole frame, a detector's
    miss) adds nothing: without temporal context the embedding equals the walk without those
    frames, exactly. A clip that shows nothing at all still gets a finite embedding."""
    net = perturbed(per_frame_net())  # trained-like: empty frames' features are not 0
    x = (torch.rand(20, 64, 44) > 0.5).float()
    blanked = x.clone()
    blanked[5:12] = 0
    torch.testing.assert_close(embed(net, blanked), embed(net, torch.cat([x[:5], x[12:]])), rtol=0, atol=0)
    assert torch.isfinite(embed(net, torch.zeros(20, 64, 44))).all()
