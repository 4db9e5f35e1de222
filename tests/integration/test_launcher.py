"""The launcher runs OpenGait's real pipeline on CPU (gloo) at world size 1 and 2."""
import json
import math

import pytest

from opengait_gaitbert.launcher.demo import parse_rank1

from .conftest import demo_cfg, logged, run, with_pretraining, write_cfg


def test_training_lowers_the_loss(opengait_root, synth_data, tmp_path):
    """The default trains on identities from the first step: no reconstruction, the loss falls."""
    cfg = write_cfg(demo_cfg(synth_data, iters=40), tmp_path)
    code, lines = run("train", cfg, opengait_root, tmp_path)
    assert code == 0, "\n".join(lines[-30:])
    total = logged(lines, "gaitbert_loss")
    assert len(total) == 40 and not logged(lines, "gaitbert_reconstruction")
    assert sum(total[-5:]) / 5 < sum(total[:5]) / 5


def test_pretraining_lowers_the_reconstruction_loss(opengait_root, synth_data, tmp_path):
    """With a pretraining phase (30 % of 80 iterations) the reconstruction is logged in that phase only
    and falls there."""
    cfg = write_cfg(with_pretraining(demo_cfg(synth_data, iters=80)), tmp_path)
    code, lines = run("train", cfg, opengait_root, tmp_path)
    assert code == 0, "\n".join(lines[-30:])
    recon = logged(lines, "gaitbert_reconstruction")
    assert len(recon) == 24 and len(logged(lines, "gaitbert_triplet")) == 80 - 24
    assert sum(recon[-5:]) / 5 < 0.8 * sum(recon[:5]) / 5


@pytest.mark.parametrize("nproc", [1, 2])
def test_train_then_test_prints_the_casiab_table(opengait_root, synth_data, tmp_path, nproc):
    cfg = write_cfg(demo_cfg(synth_data, iters=6, nproc=nproc), tmp_path)
    code, lines = run("train", cfg, opengait_root, tmp_path, nproc=nproc)
    assert code == 0, "\n".join(lines[-30:])
    assert (tmp_path / "output/CASIA-B/GaitBERT/GaitBERT_demo/checkpoints/GaitBERT_demo-00006.pt").is_file()
    code, lines = run("test", cfg, opengait_root, tmp_path, nproc=nproc)
    assert code == 0, "\n".join(lines[-30:])
    rank1 = parse_rank1(lines)
    assert set(rank1) == {"NM", "BG", "CL"} and all(0 <= v <= 100 for v in rank1.values())


@pytest.mark.parametrize("pretraining", [False, True], ids=["fine-tuning", "pretraining"])
def test_first_iteration_loss_agrees_across_world_sizes(opengait_root, synth_data, tmp_path, pretraining):
    """Same global batch (30-frame clips of 30-frame sequences, seeded masks): same first loss, in a
    fine-tuning step (the default's first) and in a pretraining step."""
    values = {}
    for nproc in (1, 2):
        cfg = demo_cfg(synth_data, iters=4 if pretraining else 1, nproc=nproc)  # 30 % of 4: one pretraining step
        if pretraining:
            cfg = with_pretraining(cfg)
            cfg["trainer_cfg"]["transform"][0]["seed"] = 3
        # Fixed clips: variable lengths are drawn per rank, so only fixed clips give the same global batch.
        cfg["trainer_cfg"]["sampler"]["sample_type"] = "fixed_ordered"
        folder = tmp_path / f"ws{nproc}"
        code, lines = run("train", write_cfg(cfg, folder), opengait_root, folder, nproc=nproc)
        assert code == 0, "\n".join(lines[-30:])
        keys = (("gaitbert_reconstruction", "gaitbert_hidden_ratio") if pretraining
                else ("gaitbert_triplet", "gaitbert_loss_num"))  # the triplet sees the all-gathered batch
        values[nproc] = {k: logged(lines, k)[0] for k in keys}
    for key, one in values[1].items():
        assert math.isclose(one, values[2][key], rel_tol=0.05, abs_tol=1e-3), (key, values)


def test_test_phase_results_do_not_depend_on_world_size(opengait_root, synth_data, tmp_path):
    """One checkpoint, tested by 1 and by 2 processes: the same embeddings give the same table."""
    cfg = write_cfg(demo_cfg(synth_data, iters=4), tmp_path)
    code, lines = run("train", cfg, opengait_root, tmp_path)
    assert code == 0, "\n".join(lines[-30:])
    tables = {}
    for nproc in (1, 2):
        code, lines = run("test", cfg, opengait_root, tmp_path, nproc=nproc,
                          overrides=[f"evaluator_cfg.sampler.batch_size={nproc}"])
        assert code == 0, "\n".join(lines[-30:])
        tables[nproc] = [line.split("[INFO]: ")[1] for line in lines if "@R1: [" in line]
    assert len(tables[1]) == 3 and tables[1] == tables[2]


def test_resume_continues_from_the_saved_iteration(opengait_root, synth_data, tmp_path):
    cfg = write_cfg(demo_cfg(synth_data, iters=6, save_iter=3), tmp_path)
    code, lines = run("train", cfg, opengait_root, tmp_path, overrides=["trainer_cfg.total_iter=3"])
    assert code == 0, "\n".join(lines[-30:])
    code, lines = run("train", cfg, opengait_root, tmp_path, iteration=3)
    assert code == 0, "\n".join(lines[-30:])
    assert any("Restore Parameters from" in line and "GaitBERT_demo-00003.pt" in line for line in lines)
    iterations = [int(line.split("Iteration ")[1][:5]) for line in lines if "Iteration " in line]
    assert iterations == [4, 5, 6]


def test_launcher_fails_fast_with_clear_messages(opengait_root, synth_data, tmp_path):
    from opengait_gaitbert.core import ConfigError
    from opengait_gaitbert.launcher.locate import OpenGaitNotFound
    from opengait_gaitbert.launcher.run import launch
    cfg = write_cfg(demo_cfg(synth_data), tmp_path)
    with pytest.raises(OpenGaitNotFound, match="--opengait"):
        launch("train", str(cfg), opengait=str(tmp_path), device="cpu", workdir=str(tmp_path))
    cases = [
        (["data_cfg.dataset_root=/nonexistent"], "data_cfg.dataset_root", {}),
        (["trainer_cfg.sync_BN=true"], "sync_BN", {}),
        (["trainer_cfg.enable_float16=true"], "enable_float16", {}),
        (["evaluator_cfg.sampler.batch_size=4"], "batch_size = 4", {"phase": "test"}),
        (["model_cfg.chanels=[4, 8]"], "Did you mean `channels`", {}),
        ([], "does not exist", {"iteration": 7}),
    ]
    for overrides, match, extra in cases:
        phase = extra.pop("phase", "train")
        with pytest.raises(ConfigError, match=match):
            launch(phase, str(cfg), opengait=str(opengait_root), device="cpu", workdir=str(tmp_path),
                   overrides=overrides, **extra)


def test_identify_ranks_trained_walkers_with_a_launcher_checkpoint(opengait_root, synth_data, tmp_path, capsys):
    """The tools read what OpenGait's trainer saved: a gallery of the training walkers' nm-01 and
    probes of their nm-02 rank most of them first with the launcher's checkpoint and config."""
    from opengait_gaitbert.launcher import cli
    cfg = write_cfg(demo_cfg(synth_data, iters=40), tmp_path)
    code, lines = run("train", cfg, opengait_root, tmp_path)
    assert code == 0, "\n".join(lines[-30:])
    ckpt = tmp_path / "output/CASIA-B/GaitBERT/GaitBERT_demo/checkpoints/GaitBERT_demo-00040.pt"
    train_ids = json.loads((synth_data / "partition.json").read_text())["TRAIN_SET"]
    for folder, seq_type in (("gallery", "nm-01"), ("probe", "nm-02")):
        for walker in train_ids:
            (tmp_path / folder / walker).mkdir(parents=True)
            (tmp_path / folder / walker / seq_type).symlink_to(synth_data / walker / seq_type)
    ranks = tmp_path / "ranks.json"
    capsys.readouterr()
    assert cli.main(["identify", "--cfgs", str(cfg), "--ckpt", str(ckpt), "--gallery", str(tmp_path / "gallery"),
                     "--probe", str(tmp_path / "probe"), "--json", str(ranks)]) == 0
    assert "differs" not in capsys.readouterr().err  # the checkpoint's model_cfg is the config's
    probes = json.loads(ranks.read_text())["probes"]
    assert len(probes) == 2 * len(train_ids)  # two views each
    first = [p["identities"][0]["id"] == p["probe"]["id"] for p in probes]
    assert sum(first) >= 0.75 * len(first), probes  # chance is 1 in 4
