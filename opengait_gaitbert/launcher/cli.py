"""opengait-gaitbert: one command for training, testing, data and tools.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``main(args) -> int``; modules are imported only when their command runs, so
``--help`` and light commands stay fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

# command -> (module, one-line help)
COMMANDS = {
    "train": ("opengait_gaitbert.launcher.run", "train with OpenGait's own main flow (CUDA or CPU)"),
    "test": ("opengait_gaitbert.launcher.run", "test with OpenGait's evaluator (CUDA or CPU)"),
    "demo": ("opengait_gaitbert.launcher.demo", "synthetic data -> train -> test -> rank-1 table, in minutes"),
    "synth": ("opengait_gaitbert.data.synth", "write a synthetic CASIA-B-protocol dataset"),
    "pretreat": ("opengait_gaitbert.data.pretreat", "convert PNG silhouettes to OpenGait pkl"),
    "check-data": ("opengait_gaitbert.launcher.checkdata", "list unreadable or malformed pkl and empty ids"),
    "visualize": ("opengait_gaitbert.tools.visualize", "picture/GIF of what GaitBERT fills in"),
    "embed": ("opengait_gaitbert.tools.identify", "embeddings of a folder of sequences to .npz"),
    "identify": ("opengait_gaitbert.tools.identify", "rank gallery identities for each probe"),
    "export": ("opengait_gaitbert.tools.export", "export the encoder to ONNX or TorchScript"),
}

EPILOG = """examples:
  opengait-gaitbert demo --opengait ~/OpenGait
  opengait-gaitbert train --cfgs configs/gaitbert/gaitbert_casiab.yaml --opengait ~/OpenGait
  opengait-gaitbert test  --cfgs my.yaml --device cpu --nproc 2 --iter 60000
  opengait-gaitbert synth --out data/synth --ids 16 --seed 0
  opengait-gaitbert pretreat --layout casiab CASIA-B-png/ CASIA-B-pkl/
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opengait-gaitbert", description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=help_text, description=help_text,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=getattr(module, "EPILOG", None))
        if name in ("train", "test"):
            module.add_arguments(command, phase=name)
        else:
            module.add_arguments(command)
        command.set_defaults(handler=module.main)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from ..core.errors import GaitBERTError
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except GaitBERTError as err:  # user-caused: the message names the file/key and the fix
        print(f"opengait-gaitbert {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
