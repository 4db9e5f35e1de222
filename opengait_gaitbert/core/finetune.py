"""Fine-tuning a pretrained GaitBERT, pure torch: which tensors to restore, which to train how fast.

Pretraining (``model_cfg.class_num: 0``) leaves a checkpoint without an identity
head; fine-tuning restores everything else through OpenGait's own
``restore_hint: <path>`` with ``restore_ckpt_strict: false``, and trains the head
from scratch. Torch's non-strict ``load_state_dict`` still stops at a shape
mismatch with a bare size error, and silently keeps fresh weights for any part the
checkpoint lacks; :func:`restorable_state` checks first and names the file, the
tensors and the fix.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Sequence, Tuple

import torch

from .errors import CheckpointError, quote_keys


def state_dict_misfits(expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]
                       ) -> Tuple[List[str], List[str], List[str]]:
    """What ``load_state_dict(state)`` into a module with state ``expected`` would trip over.

    Returns:
        (missing keys, unexpected keys, shape mismatches as ``"key: checkpoint [..] vs model [..]"``),
        each in ``expected``'s (or ``state``'s) order.
    """
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k}: checkpoint {list(state[k].shape)} vs model {list(expected[k].shape)}"
              for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    return missing, unexpected, shapes


def restorable_state(expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], path: str,
                     source: str, fresh_prefixes: Sequence[str], strict: bool = False
                     ) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """The tensors of checkpoint ``state`` to restore for fine-tuning, and the keys left fresh.

    Keys under ``fresh_prefixes`` (the identity head) may be absent from the
    checkpoint, or have another shape (a head for other identities): they stay as
    initialised. Everything else must be there with the model's shape.

    Args:
        expected: the model's ``state_dict()``.
        state: the checkpoint's ``model`` entry.
        path, source: the checkpoint file and the config being run, for messages.
        fresh_prefixes: key prefixes that may start fresh, e.g. ``("net.head.",)``.
        strict: OpenGait's ``restore_ckpt_strict``: every tensor must match both ways, none starts fresh.
    Returns:
        (state to load with ``strict=False``, model keys that keep their initial values).
    Raises:
        CheckpointError: naming ``path``, ``source``, the misfitting tensors and the fix.
    """
    missing, unexpected, shapes = state_dict_misfits(expected, state)
    fresh = lambda key: key.startswith(tuple(fresh_prefixes))  # noqa: E731
    if not set(expected) & set(state):
        found = ", ".join(list(state)[:3]) or "nothing"
        raise CheckpointError(
            f"{source}: restore_hint {path} holds no tensor of this GaitBERT model (its weights are named "
            f"{found}, ...). It is another model's checkpoint: point restore_hint at a GaitBERT checkpoint, "
            "e.g. the pretraining run's output/<dataset>/GaitBERT/<save_name>/checkpoints/<save_name>-<iter>.pt.")
    if strict:
        fresh_prefixes = ()
    dropped_heads = [item.split(":")[0] for item in shapes if fresh(item)]
    problems = [quote_keys(title, items) for title, items in (
        ("tensors missing from the checkpoint", [k for k in missing if not fresh(k)]),
        ("extra tensors", unexpected if strict else []),
        ("shape mismatches", [item for item in shapes if not fresh(item)])) if items]
    if problems:
        fix = ("To fine-tune a pretrained encoder with a new identity head, set restore_ckpt_strict: false; "
               "to test a checkpoint, use the model_cfg it was trained with." if strict else
               "The checkpoint was trained with another model_cfg (channels, embed_stride, temporal_dim, "
               "temporal_layers, bin_num, ...): copy those keys from the pretraining config; only class_num, "
               "embed_dim, part_columns and part_lr may differ (they shape the head only).")
        raise CheckpointError(f"{source}: restore_hint {path} does not fit the model built from model_cfg:\n  "
                              + "\n  ".join(problems) + "\n" + fix)
    keep = {k: v for k, v in state.items() if k in expected and k not in dropped_heads}
    return keep, [k for k in expected if k not in keep]


def part_param_groups(parts: Mapping[str, List[torch.nn.Parameter]], part_lr: Mapping[str, float],
                      lr: float) -> List[Dict]:
    """Optimizer parameter groups, one per part: ``part_lr[part]`` or the optimizer's ``lr``.

    Args:
        parts: each part's trainable parameters (``GaitBERTNet.part_parameters()``).
        part_lr: learning rates by part name; parts at 0 are frozen and have no parameters here.
        lr: ``optimizer_cfg.lr``.
    """
    return [{"params": params, "lr": float(part_lr.get(name, lr)), "name": name}
            for name, params in parts.items() if params]
