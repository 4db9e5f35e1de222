"""Pretrain (no labels) -> zero-shot test -> fine-tune -> test, through the launcher and OpenGait's
own main flow, from the shipped pretraining, zero-shot and fine-tuning configs at demo width."""
import re

import pytest
import yaml

from opengait_gaitbert import config_path
from opengait_gaitbert.launcher.demo import parse_rank1

from .conftest import logged, run, write_cfg

ITERS = 4


DEMO_CHANNELS = yaml.safe_load(config_path("gaitbert_demo.yaml").read_text())["model_cfg"]["channels"]


def shipped(name: str, data, model_cfg: dict, class_num: int) -> dict:
    """A shipped config on ``data``, at the demo's width, CPU switches and a tiny budget."""
    cfg = yaml.safe_load(config_path(name).read_text())
    demo_model = yaml.safe_load(config_path("gaitbert_demo.yaml").read_text())["model_cfg"]
    # the demo's widths; the config's own fine-tuning rates and phases (pretraining alone: class_num 0)
    own = ("part_lr", "pretrain_fraction")
    cfg["model_cfg"] = {**{k: v for k, v in demo_model.items() if k not in own}, **model_cfg, "class_num": class_num,
                        **{k: v for k, v in cfg["model_cfg"].items() if k in own}}
    cfg["data_cfg"].update(dataset_name="Synth", test_dataset_name="CASIA-B", dataset_root=str(data),
                           dataset_partition=str(data / "partition.json"), num_workers=0)
    cfg["evaluator_cfg"].update(enable_float16=False)
    cfg["evaluator_cfg"]["sampler"]["batch_size"] = 1
    if "trainer_cfg" in cfg:
        cfg["trainer_cfg"].update(enable_float16=False, sync_BN=False, total_iter=ITERS, save_iter=ITERS,
                                  log_iter=1)
        sampler = cfg["trainer_cfg"]["sampler"]
        sampler["batch_size"] = 4 if sampler["type"] == "CommonSampler" else [2, 2]
        cfg["evaluator_cfg"]["restore_hint"] = ITERS
    return cfg


@pytest.fixture(scope="module")
def pretrained(opengait_root, synth_data, tmp_path_factory):
    """A pretraining run of the shipped folder recipe: (workdir, checkpoint, launcher lines)."""
    work = tmp_path_factory.mktemp("pretrain")
    cfg = shipped("gaitbert_pretrain_folder.yaml", synth_data, {}, class_num=0)
    code, lines = run("train", write_cfg(cfg, work), opengait_root, work)
    assert code == 0, "\n".join(lines[-30:])
    ckpt = work / f"output/Synth/GaitBERT/GaitBERT_Pretrain/checkpoints/GaitBERT_Pretrain-{ITERS:05d}.pt"
    assert ckpt.is_file()
    return work, ckpt, lines


def test_pretraining_needs_no_labels_and_logs_reconstruction_quality(pretrained):
    _, _, lines = pretrained
    psnr = logged(lines, "gaitbert_hidden_psnr")
    assert len(psnr) == ITERS and all(value > 0 for value in psnr)
    assert not logged(lines, "gaitbert_triplet") and not logged(lines, "softmax_loss")


def test_zero_shot_test_of_the_pretrained_encoder_prints_the_casiab_table(pretrained, opengait_root, synth_data,
                                                                          tmp_path):
    _, ckpt, _ = pretrained
    cfg = shipped("gaitbert_zeroshot_casiab.yaml", synth_data, {}, class_num=0)
    cfg["evaluator_cfg"]["restore_hint"] = str(ckpt)
    assert cfg["evaluator_cfg"]["restore_ckpt_strict"] is True  # every tensor must come from the file
    code, lines = run("test", write_cfg(cfg, tmp_path), opengait_root, tmp_path)
    assert code == 0, "\n".join(lines[-30:])
    # a randomly initialised model would print a table too: what is tested must be the pretrained one
    assert any(f"Restore Parameters from {ckpt} !!!" in line for line in lines), "\n".join(lines[-30:])
    assert not any("start fresh" in line for line in lines)
    assert set(parse_rank1(lines)) == {"NM", "BG", "CL"}


def test_fine_tuning_restores_the_encoder_trains_a_new_head_and_tests(pretrained, opengait_root, synth_data,
                                                                       tmp_path):
    _, ckpt, _ = pretrained
    cfg = shipped("gaitbert_finetune_casiab.yaml", synth_data, {}, class_num=4)
    cfg["trainer_cfg"]["restore_hint"] = str(ckpt)
    cfg_file = write_cfg(cfg, tmp_path)
    code, lines = run("train", cfg_file, opengait_root, tmp_path)
    assert code == 0, "\n".join(lines[-30:])
    assert any("restored" in line and str(ckpt) in line and "start fresh: net.head.fc" in line for line in lines)
    assert any("learning rate per part: frame_embedding 0.01, encoder 0.01, temporal 0.01, head" in line
               for line in lines)
    assert len(logged(lines, "softmax_loss")) == ITERS  # the new head trains with labels
    code, lines = run("test", cfg_file, opengait_root, tmp_path)
    assert code == 0, "\n".join(lines[-30:])
    assert set(parse_rank1(lines)) == {"NM", "BG", "CL"}


def test_fine_tuning_from_a_missing_or_mismatched_checkpoint_stops_before_training(pretrained, opengait_root,
                                                                                   synth_data, tmp_path):
    _, ckpt, _ = pretrained
    cases = [("missing", {}, str(tmp_path / "nope.pt"), "trainer_cfg.restore_hint = .*nope.pt' does not exist"),
             ("wider", {"channels": [2 * c for c in DEMO_CHANNELS]}, str(ckpt),
              "does not fit the model built from model_cfg"),
             ("no-reset", {}, str(ckpt), "set trainer_cfg.optimizer_reset: true")]
    for name, model_cfg, hint, message in cases:
        cfg = shipped("gaitbert_finetune_casiab.yaml", synth_data, model_cfg, class_num=4)
        cfg["trainer_cfg"]["restore_hint"] = hint
        if name == "no-reset":
            cfg["trainer_cfg"]["optimizer_reset"] = False
        code, lines = run("train", write_cfg(cfg, tmp_path / name), opengait_root, tmp_path / name)
        text = "\n".join(lines)
        assert code != 0, name
        assert re.search(message, text), (name, text[-3000:])
        assert not logged(lines, "gaitbert_loss"), name  # no training step ran
