"""A tiny GaitBERT for the core tests: its config, trained-like weights, a few identity-training steps.

Imported by the test modules (``from tiny_model import tiny_cfg``) like ``video_scene``; pytest
puts this folder on ``sys.path`` for them.
"""
import torch
import yaml

from opengait_gaitbert import config_path

#: The U-Net recipe (the defaults until 2026-12-05) that the small core tests are written against:
#: conv-block encoder of any depth, a decoder (a pretraining phase, as gaitbert_casiab_bert.yaml), whole strips.
UNET_RECIPE = dict(encoder="unet", temporal="transformer", part_columns=1, part_visibility=False, pretrain_fraction=0.3)

TINY_MODEL_CFG = """
model_cfg:
  model: GaitBERT
  encoder: unet
  pretrain_fraction: 0.3
  part_columns: 1
  part_visibility: false
  channels: {channels}
  embed_stride: 1
  frame_size: [64, 44]
  temporal: {temporal}
  temporal_dim: 32
  temporal_layers: {layers}
  temporal_heads: 4
  embed_dim: 32
  bin_num: [16]
  class_num: 4
"""


def perturbed(net):
    """Random weights *and* BN running statistics and shifts, like a trained network's: a wrong
    load would show, and an empty frame's features are not 0 (untrained, every bias is 0)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if tensor.is_floating_point():
                noise = torch.rand(tensor.shape, generator=g) if "running_var" in name \
                    else 0.1 * torch.randn(tensor.shape, generator=g)
                tensor.add_(noise)
    return net


def tiny_cfg(channels=(8, 16, 32), temporal="transformer", layers=1, extra="") -> str:
    """YAML of a narrow GaitBERT (fast on CPU), plus ``extra`` sections."""
    return TINY_MODEL_CFG.format(channels=list(channels), temporal=temporal, layers=layers) + extra


def fit_identities(net, sils, labels, steps: int, lr: float = 1e-2):
    """``steps`` Adam steps of cross-entropy on every part's logits: enough for a tiny network to
    tell a handful of identities apart. ``sils [n, s, 64, 44]``, ``labels [n]``; returns ``net``
    in eval mode."""
    import torch.nn.functional as F

    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    for _ in range(steps):
        logits = net(sils, None, reconstruct=False)["logits"]  # [n, classes, p]
        loss = F.cross_entropy(16 * logits, labels[:, None].expand(-1, logits.shape[-1]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


def with_pretraining(cfg: dict) -> dict:
    """``cfg`` (the demo's) with BERT's recipe's pretraining phase: gaitbert_casiab_bert.yaml's fraction,
    masked-frame sampler and reconstruction weight, and DDP's unused-parameter detection."""
    bert = yaml.safe_load(config_path("gaitbert_casiab_bert.yaml").read_text())
    cfg["model_cfg"]["pretrain_fraction"] = bert["model_cfg"]["pretrain_fraction"]
    cfg["loss_cfg"][0]["reconstruction_weight"] = bert["loss_cfg"][0]["reconstruction_weight"]
    cfg["trainer_cfg"].update(transform=bert["trainer_cfg"]["transform"], find_unused_parameters=True)
    return cfg
