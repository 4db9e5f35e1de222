"""Our converter gives OpenGait's own datasets/pretreatment.py output, bit for bit; and the files
OpenGait's pretreatment writes load through the safe loader unchanged."""
import importlib.util
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from real_data import casia_b_sample
from opengait_gaitbert.data import safe_pickle
from opengait_gaitbert.data.pretreat import align_sequence, read_sequence
from opengait_gaitbert.data.safe_pickle import load_pickle


def opengait_pretreatment(root: Path):
    spec = importlib.util.spec_from_file_location("opengait_pretreatment", root / "datasets" / "pretreatment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.data
@pytest.mark.parametrize("name", ["nm", "bg", "cl"])
def test_real_casiab_frames_match_opengait_pretreatment(opengait_root, tmp_path, name):
    frames = read_sequence(casia_b_sample(f"{name}.gif"))
    paths = []
    for i, frame in enumerate(frames):
        paths.append(tmp_path / "png" / f"{i:03d}.png")
        paths[-1].parent.mkdir(exist_ok=True)
        cv2.imwrite(str(paths[-1]), frame)
    opengait_pretreatment(opengait_root).imgs2pickle((("001", name + "-01", "090"), paths), tmp_path / "og")
    written = tmp_path / "og" / "001" / f"{name}-01" / "090" / "090.pkl"
    with open(written, "rb") as stream:
        plain = pickle.load(stream)  # written just now by OpenGait's own script: the reference
    expected = load_pickle(written)
    assert safe_pickle.check_pickle(written) is None
    assert expected.dtype == plain.dtype == np.uint8 and expected.shape == plain.shape
    assert expected.tobytes() == plain.tobytes() and pickle.dumps(expected) == written.read_bytes()
    ours = align_sequence(frames, threshold=None)  # no thresholding: OpenGait keeps grey levels
    assert ours.shape == expected.shape
    np.testing.assert_array_equal(ours, expected)
