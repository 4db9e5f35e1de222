"""A tiny overfit: hidden frames are inferred better than by copying the nearest visible frame."""
import numpy as np
import torch

from opengait_gaitbert.core import GaitBERTNet, MaskingPolicy, NetworkConfig, mask_sequence
from opengait_gaitbert.core.losses import masked_reconstruction_loss, nearest_visible_frame_baseline
from opengait_gaitbert.data.synth import synth_sequence
from tiny_model import UNET_RECIPE


def walkers(ids=4, frames=16):
    """Synthetic walkers, cut to 64x44 and scaled to [0, 1] like BaseSilCuttingTransform."""
    return np.stack([synth_sequence(0, i, "nm-01", "090", frames=frames)[:, :, 10:-10] / 255.0
                     for i in range(1, ids + 1)]).astype(np.float32)


def masked_batch(seqs, policy, rng):
    pairs = [mask_sequence(seq, policy, rng) for seq in seqs]
    inputs = torch.from_numpy(np.stack([p[0] for p in pairs]))
    masks = torch.from_numpy(np.stack([p[1] for p in pairs]))
    return inputs, torch.from_numpy(seqs), masks


def test_reconstruction_beats_copying_the_nearest_visible_frame():
    torch.manual_seed(0)
    seqs, policy, rng = walkers(), MaskingPolicy(mode="frame", ratio=0.25), np.random.default_rng(0)
    net = GaitBERTNet(NetworkConfig(**UNET_RECIPE, channels=[16, 32], embed_stride=2, temporal_dim=64, temporal_layers=2,
                                    temporal_heads=4, embed_dim=16, class_num=4))
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    first = None
    for _ in range(200):
        inputs, target, mask = masked_batch(seqs, policy, rng)
        loss = masked_reconstruction_loss(net(inputs, reconstruct=True)["reconstruction"], target, mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    net.eval()
    with torch.no_grad():  # fresh masks on the same clips
        inputs, target, mask = masked_batch(seqs, policy, np.random.default_rng(1))
        model_mse = masked_reconstruction_loss(net(inputs, reconstruct=True)["reconstruction"], target, mask).item()
        copy_mse = nearest_visible_frame_baseline(target, mask)[1].item()
    assert model_mse < 0.2 * first
    assert model_mse < 0.7 * copy_mse, (model_mse, copy_mse)
