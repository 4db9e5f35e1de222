"""Where the tests find real recordings that this repository cannot ship, and how they skip without them.

The real CASIA-B silhouettes (``nm.gif``, ``bg.gif``, ``cl.gif``: one walk each, 64x64 after
pretreatment) are not redistributable. Point ``GAITBERT_CASIA_B_SAMPLES`` at a folder holding
them; by default the tests look in ``shared/data/casia-b-samples`` beside the repository's
folder, where this project's machines keep them.
"""
import os
from pathlib import Path

import pytest

SAMPLES_ENV = "GAITBERT_CASIA_B_SAMPLES"
_REPO = Path(__file__).resolve().parents[1]
CASIA_B_SAMPLES = Path(os.environ.get(SAMPLES_ENV) or _REPO.parent / "shared" / "data" / "casia-b-samples")


def casia_b_sample(name: str) -> Path:
    """The real CASIA-B sample ``name`` (e.g. ``nm.gif``), or skip the test saying why and how to run it."""
    path = CASIA_B_SAMPLES / name
    if not path.is_file():
        pytest.skip(f"real CASIA-B sample {name} not found in {CASIA_B_SAMPLES}: these silhouettes are not "
                    f"shipped; set {SAMPLES_ENV} to a folder holding nm.gif, bg.gif and cl.gif to run this test")
    return path
