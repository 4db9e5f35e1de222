"""OpenGait's own GaitBase (Baseline) and GaitSet train and test on CPU through the launcher.

Only the dataset paths, the CPU-incompatible switches (sync_BN, fp16) and the
budget (iterations, batch size, evaluator batch = world size) are overridden:
that shows the launcher runs OpenGait itself, not a copy.
"""
import pytest

from opengait_gaitbert.launcher.demo import parse_rank1

from .conftest import run


@pytest.mark.parametrize("config", ["configs/gaitbase/gaitbase_da_casiab.yaml", "configs/gaitset/gaitset.yaml"])
def test_opengait_model_trains_and_tests_on_cpu(opengait_root, synth_data, tmp_path, config):
    overrides = [f"data_cfg.dataset_root={synth_data}", f"data_cfg.dataset_partition={synth_data / 'partition.json'}",
                 "data_cfg.num_workers=0", "trainer_cfg.sync_BN=false", "trainer_cfg.enable_float16=false",
                 "evaluator_cfg.enable_float16=false", "trainer_cfg.total_iter=2", "trainer_cfg.save_iter=2",
                 "trainer_cfg.log_iter=1", "trainer_cfg.sampler.batch_size=[2, 2]", "evaluator_cfg.restore_hint=2",
                 "evaluator_cfg.sampler.batch_size=1"]
    cfg = opengait_root / config
    code, lines = run("train", cfg, opengait_root, tmp_path, overrides=overrides)
    assert code == 0, "\n".join(lines[-30:])
    assert any("Iteration 00002" in line for line in lines)
    code, lines = run("test", cfg, opengait_root, tmp_path, overrides=overrides)
    assert code == 0, "\n".join(lines[-30:])
    assert set(parse_rank1(lines)) == {"NM", "BG", "CL"}
