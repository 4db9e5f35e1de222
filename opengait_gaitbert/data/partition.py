"""``opengait-gaitbert partition``: the partition JSON for a folder of OpenGait pkl.

OpenGait reads only the top folders a partition lists (``TRAIN_SET``, ``TEST_SET``).
For pretraining on unlabelled silhouettes those folders need not be identities
(videos, cameras, days), and nobody has a partition file: this writes one.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

from ..core.errors import ConfigError, DataError
from .readers import natural_key

EPILOG = """examples:
  opengait-gaitbert partition GaitLU-pkl/ --out GaitLU-pkl.json            # every folder trains
  opengait-gaitbert partition my-pkl/ --out my.json --test 50                # the last 50 folders test
"""


def sequence_folders(root: Path) -> List[str]:
    """Top folders of ``root`` holding at least one ``<top>/<type>/<view>/*.pkl``, in natural order."""
    return sorted({path.relative_to(root).parts[0] for path in root.glob("*/*/*/*.pkl")}, key=natural_key)


def make_partition(root: Path, test: int = 0) -> Dict[str, List[str]]:
    """``{"TRAIN_SET": [...], "TEST_SET": [...]}``: the last ``test`` folders test, the rest train.

    Raises:
        DataError: ``root`` is missing or holds no pkl in OpenGait's layout.
        ConfigError: ``test`` leaves nothing to train on.
    """
    if not root.is_dir():
        raise DataError(f"{root}: no such folder. Give the folder OpenGait's pretreatment wrote.")
    folders = sequence_folders(root)
    if not folders:
        raise DataError(f"{root}: no sequence in OpenGait's layout <folder>/<type>/<view>/<name>.pkl. "
                        "Convert frames with `opengait-gaitbert pretreat` or OpenGait's "
                        "datasets/pretreatment.py first.")
    if not 0 <= test < len(folders):
        raise ConfigError(f"--test {test}: {root} has {len(folders)} folders with sequences; keep at least "
                          f"one for training (--test 0..{len(folders) - 1}).")
    cut = len(folders) - test
    return {"TRAIN_SET": folders[:cut], "TEST_SET": folders[cut:]}


def add_arguments(parser) -> None:
    parser.add_argument("root", type=Path, help="pkl folder in OpenGait's layout")
    parser.add_argument("--out", type=Path, required=True, help="partition JSON to write")
    parser.add_argument("--test", type=int, default=0, help="folders (the last ones) to put in TEST_SET")


def main(args) -> int:
    split = make_partition(args.root, args.test)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(split, indent=1))
    print(f"{args.out}: {len(split['TRAIN_SET'])} train, {len(split['TEST_SET'])} test folders of {args.root}")
    return 0
