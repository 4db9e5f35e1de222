"""The command-line options with which every tool names its model: ``--cfgs``, ``--ckpt``, ``--device``."""
from __future__ import annotations


def add_model_arguments(parser) -> None:
    """``--cfgs`` / ``--ckpt`` / ``--device``, shared by every tool."""
    parser.add_argument("--cfgs", required=True, help="OpenGait YAML config the model was trained with")
    parser.add_argument("--ckpt", help="OpenGait checkpoint .pt (output/.../checkpoints/<name>-<iter>.pt); "
                                       "omitted: a randomly initialised model")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
