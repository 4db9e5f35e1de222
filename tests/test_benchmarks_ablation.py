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
from opengait_gaitbert.core import NetworkConfig
from opengait_gaitbert.launcher.run import apply_overrides

def network(cfg):
    return vars(NetworkConfig.from_dict(cfg["model_cfg"]))

lite = apply_overrides(yaml.safe_load(ablation.recipe_of("resnet9-lite").read_text()), ablation.VARIANTS["resnet9-lite"])
from opengait_gaitbert import config_path
masked = yaml.safe_load(config_path("gaitbert_casiab_masked.yaml").read_text())
transformer_only = ("temporal_dim", "temporal_heads", "temporal_window")
print(json.dumps({
    "recipes": {n: ablation.recipe_of(n).name for n in ablation.VARIANTS.keys() | ablation.TEST_TIME_VARIANTS.keys()},
    "valid": [n for n in ablation.VARIANTS
              if NetworkConfig.from_dict(apply_overrides(yaml.safe_load(ablation.recipe_of(n).read_text()),
                                                         ablation.VARIANTS[n])["model_cfg"])],
    "lite_is_masked": {k: v for k, v in network(lite).items() if k not in transformer_only}
                      == {k: v for k, v in network(masked).items() if k not in transformer_only},
}))
"""


def test_variants_name_their_recipe_and_resnet9_lite_builds_the_masked_recipe():
    """resnet9-lite keeps overriding the U-Net recipe it was measured against; the others override
    the default (a test-time variant: the default its trained variant overrides). resnet9-lite over the U-Net recipe is
    gaitbert_casiab_masked.yaml's network, the default of 2026-12-05 (the transformer's keys aside,
    which a conv context does not read)."""
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.splitlines()[-1])
    default = "gaitbert_casiab.yaml"
    assert out["recipes"] == {"shipped": default, "masked": default, "no-masked": default, "feature": default,
                              "feature-only": default, "no-visibility": default,
                              "resnet9-lite": "gaitbert_casiab_unet.yaml"}
    assert len(out["valid"]) == 6  # every variant's overrides give a valid model_cfg
    assert out["lite_is_masked"] is True
