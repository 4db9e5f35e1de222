"""Where the tests find real recordings that this repository cannot ship, and how they skip without them.

The real CASIA-B silhouettes (``nm.gif``, ``bg.gif``, ``cl.gif``: one walk each, 64x64 after
pretreatment) are not redistributable. Point ``GAITBERT_CASIA_B_SAMPLES`` at a folder holding
them. Without it, the tests look in ``shared/data/casia-b-samples`` beside the repository's
folder, where this project's own machines keep them; a skip message names only the variable.
"""
import os
from pathlib import Path

import pytest

SAMPLES_ENV = "GAITBERT_CASIA_B_SAMPLES"
SAMPLE_NAMES = ("nm.gif", "bg.gif", "cl.gif")
_REPO = Path(__file__).resolve().parents[1]
CASIA_B_SAMPLES = Path(os.environ.get(SAMPLES_ENV) or _REPO.parent / "shared" / "data" / "casia-b-samples")


def casia_b_sample(name: str) -> Path:
    """The real CASIA-B sample ``name`` (e.g. ``nm.gif``), or skip the test saying why and how to run it."""
    path = CASIA_B_SAMPLES / name
    if not path.is_file():
        where = f"the folder {SAMPLES_ENV} names has no {name}" if os.environ.get(SAMPLES_ENV) \
            else f"{SAMPLES_ENV} is not set"
        pytest.skip(f"needs real CASIA-B silhouettes, which the repository cannot ship, and {where}: set "
                    f"{SAMPLES_ENV} to a folder holding {', '.join(SAMPLE_NAMES)} (one CASIA-B walk each: "
                    "normal, bag, coat; the GIFs of a subject's silhouette frames) to run this test")
    return path
