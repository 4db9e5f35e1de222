"""Test-time completion: a network that learned to fill in hidden content completes an occluded
probe before it is embedded.

In pretraining, the masked-frame sampler blanks bands, bars, patches and frames, and the decoder
learns to put back what they hid. An occluder at test time blanks the silhouette the same way, so
the network as it was at the end of its pretraining phase (encoder and decoder; fine-tuning moves
the encoder on and leaves the decoder behind) can complete a probe. The completed probe keeps every
pixel the probe shows and adds what the reconstruction puts where the probe is blank:
``max(probe, sigmoid(reconstruction))``.

The completing network is a second :class:`~.model.GaitBERTNet`, read from a checkpoint of the
pretraining phase (the one-run recipe saves one at the phase boundary). It costs one more encoder
pass and a decoder pass per probe; the embedding network is unchanged.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Union

import torch

from .errors import CheckpointError, ConfigError
from .model import GaitBERTNet, NetworkConfig
from .sequences import SeqL
from .training_state import load_checkpoint, network_state_dict

PathLike = Union[str, Path]


def load_completer(path: PathLike, map_location="cpu", where: str = "model_cfg.test_completion") -> GaitBERTNet:
    """The network a pretraining-phase checkpoint holds, in eval mode, built from the ``model_cfg`` it stores.

    Raises:
        CheckpointError: an unreadable file, one without the model_cfg it was trained with, or one
            whose network has no decoder (nothing to complete with), naming ``where`` and the fix.
    """
    fix = ("Point it at a checkpoint of masked-frame pretraining: the one the recipe saves at its phase "
           "boundary (<save_name>-<pretrain iterations>.pt), or a pretraining run's.")
    data = load_checkpoint(path, map_location, fix=fix)
    stored = data.get("model_cfg")
    if not isinstance(stored, Mapping):
        raise CheckpointError(f"{where}: {path} stores no model_cfg, so the network it holds is unknown. {fix}")
    try:
        config = NetworkConfig.from_dict({k: v for k, v in stored.items() if k != "test_completion"},
                                         where=f"{path}: model_cfg")
    except ConfigError as err:
        raise CheckpointError(f"{where}: {err} {fix}") from err
    if not config.has_decoder:
        why = "without a pretraining phase (pretrain_fraction 0)" if not config.pretrains else "on the latent target"
        raise CheckpointError(f"{where}: {path} was trained {why}: it has no decoder to complete probes with. {fix}")
    net = GaitBERTNet(config)
    net.load_state_dict(network_state_dict(data, path))
    return net.eval()


@torch.no_grad()
def complete(completer: GaitBERTNet, sils: torch.Tensor, seqL: SeqL = None) -> torch.Tensor:
    """``[n, s, h, w]`` silhouettes in [0, 1] -> the same with blank content filled in by ``completer``.

    Every pixel the probe shows is kept; where the probe is darker than the reconstruction (an
    occluder blanked the body), the reconstruction's value is taken.
    """
    reconstruction = completer(sils, seqL, reconstruct=True)["reconstruction"]
    return torch.maximum(sils, torch.sigmoid(reconstruction.float()).to(sils.dtype))
