"""benchmarks.ablation: which shipped recipe each variant overrides.

Run in a subprocess from the repository root, as the README runs the benchmarks: they are
scripts beside the package, not part of the installed package.
"""
import json
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]

PROBE = """
import json, yaml
from benchmarks import ablation
from opengait_gaitbert.core.config import validate_cfgs
from opengait_gaitbert.launcher.run import apply_overrides

def parsed(name):
    cfg = apply_overrides(yaml.safe_load(ablation.recipe_of(name).read_text()), ablation.VARIANTS.get(name, []))
    return validate_cfgs(cfg, training=True, source=name).network

print(json.dumps({
    "recipes": {n: ablation.recipe_of(n).name for n in ablation.VARIANTS.keys() | ablation.TEST_TIME_VARIANTS.keys()},
    "pretrain": {n: parsed(n).pretrain_fraction for n in ablation.VARIANTS},
}))
"""


def test_variants_name_their_recipe_and_each_is_a_valid_training_config():
    """shipped trains on identities from the first step, bert pretrains then fine-tunes; a test-time variant tests the
    checkpoints of the variant it names, so it names that variant's recipe."""
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["recipes"] == {"shipped": "gaitbert_casiab.yaml", "bert": "gaitbert_casiab_bert.yaml",
                              "no-visibility": "gaitbert_casiab.yaml"}
    assert out["pretrain"] == {"shipped": 0.0, "bert": 0.3}
