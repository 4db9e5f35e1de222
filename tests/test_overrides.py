"""The launcher's ``--set KEY=VALUE`` overrides, as used by the benchmarks and by users."""
import pytest

from opengait_gaitbert.core import ConfigError
from opengait_gaitbert.launcher.run import apply_overrides


def test_nested_keys_yaml_values_and_list_indices():
    cfg = {"loss_cfg": [{"margin": 0.2}, {"scale": 16}], "trainer_cfg": {"total_iter": 10}}
    apply_overrides(cfg, ["loss_cfg.1.scale=8", "trainer_cfg.total_iter=200",
                          "trainer_cfg.transform=[{type: MaskedFrameSampler, mode: [patch, band]}]",
                          "model_cfg.channels=[8, 32]"])
    assert cfg == {"loss_cfg": [{"margin": 0.2}, {"scale": 8}],
                   "trainer_cfg": {"total_iter": 200,
                                   "transform": [{"type": "MaskedFrameSampler", "mode": ["patch", "band"]}]},
                   "model_cfg": {"channels": [8, 32]}}


@pytest.mark.parametrize("item,match", [
    ("loss_cfg.2.margin=0.3", r"`loss_cfg` is a list of 2 entries; `2` must be an index from 0 to 1"),
    ("loss_cfg.first.margin=0.3", r"`first` must be an index"),
    ("trainer_cfg", "expected KEY=VALUE"),
])
def test_bad_overrides_name_the_key(item, match):
    with pytest.raises(ConfigError, match=match):
        apply_overrides({"loss_cfg": [{}, {}]}, [item])
