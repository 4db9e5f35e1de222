"""After pip install, OpenGait's own imports see GaitBERT's names; the model builds from the shipped config."""
import json
import subprocess
import sys
import textwrap

import pytest

from opengait_gaitbert import config_path

from .conftest import demo_cfg


def python(code, root, env=None, cwd=None):
    import os
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, cwd=cwd or root)


def built_model(opengait_root, cfg_file, port, training):
    """Script lines that build ``model = models.GaitBERT(cfgs, training)`` through OpenGait, on CPU (gloo)."""
    return f"""
        import os, sys
        sys.path.insert(0, {str(opengait_root / 'opengait')!r})
        os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT='{port}', RANK='0', WORLD_SIZE='1')
        import torch
        from utils import config_loader, get_msg_mgr
        from modeling import models
        from opengait_gaitbert.adapters import patches
        patches.run_on_cpu()
        torch.distributed.init_process_group('gloo')
        cfgs = config_loader({str(cfg_file)!r})
        get_msg_mgr().init_logger('output/x', False)
        model = models.GaitBERT(cfgs, training={training})
"""


def test_fresh_interpreter_sees_all_three_names(opengait_root):
    result = python(f"""
        import sys
        sys.path.insert(0, {str(opengait_root / 'opengait')!r})
        from modeling import models, losses
        from data import transform
        print(models.GaitBERT.__module__, losses.GaitBERTLoss.__module__, transform.MaskedFrameSampler.__module__)
    """, opengait_root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-3:] == ["opengait_gaitbert.adapters.model", "opengait_gaitbert.adapters.loss",
                                          "opengait_gaitbert.adapters.transform"]


def test_disable_switch_turns_the_hook_off(opengait_root):
    result = python(f"""
        import sys
        sys.path.insert(0, {str(opengait_root / 'opengait')!r})
        from modeling import models
        print(hasattr(models, 'GaitBERT'))
    """, opengait_root, env={"OPENGAIT_GAITBERT_DISABLE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "False"


def test_register_is_idempotent_and_refuses_foreign_classes(opengait_root):
    result = python(f"""
        import sys
        sys.path.insert(0, {str(opengait_root / 'opengait')!r})
        import opengait_gaitbert
        from opengait_gaitbert.registry import RegistrationError
        opengait_gaitbert.register(); opengait_gaitbert.register()
        from modeling import models
        models.GaitBERT = type('GaitBERT', (), {{}})
        try:
            opengait_gaitbert.register()
        except RegistrationError as err:
            print('refused:', err)
    """, opengait_root, env={"OPENGAIT_GAITBERT_DISABLE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused: OpenGait's `modeling.models` already has a `GaitBERT`" in result.stdout


def shipped_config_on_synth_data(opengait_root, synth_data, tmp_path, name="gaitbert_casiab.yaml", **model_cfg):
    """``name`` (a shipped CASIA-B recipe) on the generated data, 2x2 clips, CPU settings; returns its file."""
    import yaml
    cfg = yaml.safe_load(config_path(name).read_text())
    cfg["data_cfg"] = demo_cfg(synth_data)["data_cfg"]
    cfg["trainer_cfg"].update(sync_BN=False, enable_float16=False)
    cfg["trainer_cfg"]["sampler"]["batch_size"] = [2, 2]
    cfg["model_cfg"].update(class_num=4, **model_cfg)  # the generated training ids
    cfg_file = tmp_path / "casiab.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "default.yaml").symlink_to(opengait_root / "configs" / "default.yaml")
    return cfg_file


def test_berts_recipe_builds_and_runs_a_batch_of_each_phase(opengait_root, synth_data, tmp_path):
    """GaitBERT(cfgs, training) from gaitbert_casiab_bert.yaml, in a gloo process group on CPU: a
    pretraining batch (masked clips, a reconstruction, no labels read) and a fine-tuning batch (clean
    clips, embeddings for OpenGait's triplet and cross-entropy)."""
    cfg_file = shipped_config_on_synth_data(opengait_root, synth_data, tmp_path, "gaitbert_casiab_bert.yaml")
    result = python(built_model(opengait_root, cfg_file, 29533, training=True) + """
        for iteration in (0, model.engine_cfg['total_iter'] - 1):  # the first step, the last step
            model.iteration = iteration
            inputs = model.inputs_pretreament(next(iter(model.train_loader)))
            out = model(inputs)
            feat = out['training_feat']
            print('STEP', iteration, model.phase, tuple(inputs[0][0].shape), sorted(feat),
                  {k: tuple(v.shape) for k, v in feat['gaitbert'].items()}, sorted(out['inference_feat']))
            print('SEQL', inputs[4].reshape(-1).tolist())
        print('PARAMS', sum(p.numel() for p in model.parameters()))
    """, opengait_root, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    steps = [line for line in result.stdout.splitlines() if line.startswith("STEP")]
    seqLs = [json.loads(line.split(" ", 1)[1]) for line in result.stdout.splitlines() if line.startswith("SEQL")]
    # unfixed_ordered packs the 2x2 clips of 10..40 frames: [1, sum(seqL), (3,) 64, 44]
    assert all(len(seqL) == 4 and all(10 <= n <= 40 for n in seqL) for seqL in seqLs)
    first, last = (sum(seqL) for seqL in seqLs)
    assert steps[0] == (f"STEP 0 pretrain (1, {first}, 3, 64, 44) ['gaitbert'] {{'reconstruction': (1, {first}, 64, 44), "
                        f"'target': (1, {first}, 64, 44), 'mask': (1, {first}, 64, 44)}} []"), steps[0]
    assert steps[1] == (f"STEP 59999 finetune (1, {last}, 64, 44) ['gaitbert', 'softmax'] "
                        "{'embeddings': (4, 256, 32), 'labels': (4,)} ['embeddings']"), steps[1]
    params = int([line for line in result.stdout.splitlines() if line.startswith("PARAMS")][0].split()[1])
    assert 1e6 < params < 2e7


@pytest.mark.parametrize("name", ["gaitbert_casiab.yaml", "gaitbert_casiab_transformer.yaml",
                                  "gaitbert_casiab_unet.yaml"])
def test_the_shipped_casiab_configs_run_a_batch_without_a_decoder(opengait_root, synth_data, tmp_path, name):
    """The default and its network variants (pretrain_fraction 0): no decoder weights, no masks, the
    identity losses from the first step."""
    cfg_file = shipped_config_on_synth_data(opengait_root, synth_data, tmp_path, name)
    result = python(built_model(opengait_root, cfg_file, 29534, training=True) + """
        inputs = model.inputs_pretreament(next(iter(model.train_loader)))
        out = model(inputs)
        feat = out['training_feat']
        print('SUPERVISED', sum(p.numel() for p in model.net.decoder.parameters()), inputs[0][0].dim(), sorted(feat),
              sorted(feat['gaitbert']), tuple(out['inference_feat']['embeddings'].shape))
        print('PARAMS', sum(p.numel() for p in model.parameters()))
    """, opengait_root, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    line = [line for line in result.stdout.splitlines() if line.startswith("SUPERVISED")][0]
    assert line == "SUPERVISED 0 4 ['gaitbert', 'softmax'] ['embeddings', 'labels'] (4, 256, 32)", line
    params = int([line for line in result.stdout.splitlines() if line.startswith("PARAMS")][0].split()[1])
    assert 1e6 < params < 2e7


def test_fp16_inference_hands_float32_embeddings_to_opengaits_distance(opengait_root, synth_data, tmp_path):
    """Under autocast (``enable_float16``), the test features stay float32.

    OpenGait's ``cuda_dist`` computes squared distances in the features' own dtype; with fp16
    features of GaitBERT's scale (~50 per dimension) the sums overflowed and CUDA rank-1 fell
    from 60 % to 11 %. Here the embeddings are scaled like that trained model's, and the
    distances OpenGait's own function computes from them must be finite.
    """
    import yaml
    cfg = demo_cfg(synth_data)
    cfg["trainer_cfg"].update(sync_BN=False, enable_float16=False)
    cfg["evaluator_cfg"]["restore_hint"] = 0  # an untrained network: nothing to restore
    cfg["model_cfg"]["part_visibility"] = False  # raw embeddings: unit parts could never overflow
    cfg_file = tmp_path / "demo.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "default.yaml").symlink_to(opengait_root / "configs" / "default.yaml")
    result = python(built_model(opengait_root, cfg_file, 29534, training=False) + """
        from evaluation.metric import cuda_dist
        model.eval()
        with torch.no_grad():
            inputs = model.inputs_pretreament(next(iter(model.test_loader)))
            # embeddings as large as a trained model's (~50 per dimension; linear in the part FCs)
            rms = model(inputs)['inference_feat']['embeddings'].pow(2).mean().sqrt()
            model.net.head.fc.mul_(50.0 / float(rms))
            with torch.autocast('cpu', dtype=torch.float16):
                feat = model(inputs)['inference_feat']['embeddings']
        x = feat.cpu().numpy()
        print('DTYPE', feat.dtype, 'MAX', float(abs(x).max()))
        print('FINITE', bool(torch.isfinite(cuda_dist(x, x)).all()),
              bool(torch.isfinite(cuda_dist(x.astype('float16'), x.astype('float16'))).all()))
    """, opengait_root, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.startswith(("DTYPE", "FINITE")))
    assert lines["DTYPE"].startswith("torch.float32")
    assert float(lines["DTYPE"].split("MAX ")[1]) > 20  # big enough that fp16 squared distances overflow
    assert lines["FINITE"] == "True False"  # float32 (what we hand over) is finite; fp16 would not be


def test_resume_reads_the_checkpoint_file_once_and_restores_it(opengait_root, synth_data, tmp_path):
    """``resume_ckpt`` reads the file once (weights-only, for the RNG states) and hands that
    dict to OpenGait's ``_load_ckpt``, instead of letting it read the file a second time."""
    import yaml
    cfg_file = tmp_path / "demo.yaml"
    cfg_file.write_text(yaml.safe_dump(demo_cfg(synth_data)))
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "default.yaml").symlink_to(opengait_root / "configs" / "default.yaml")
    result = python(built_model(opengait_root, cfg_file, 29535, training=True) + """
        model.save_ckpt(3)
        saved = {k: v.clone() for k, v in model.state_dict().items()}
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        reads, real_load = [], torch.load
        def counting_load(f, *args, **kwargs):
            reads.append(str(f))
            return real_load(f, *args, **kwargs)
        torch.load = counting_load
        model.resume_ckpt(3)
        torch.load = real_load
        same = all(torch.equal(v, model.state_dict()[k]) for k, v in saved.items())
        print('READS', len(reads), 'RESTORED', same, 'ITER', model.iteration)
    """, opengait_root, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "READS 1 RESTORED True ITER 3" in result.stdout, result.stdout[-2000:]


@pytest.mark.parametrize("target,pretrained,terms", [
    ("pixels", "['decoder', 'encoder', 'frame_embedding', 'temporal']",
     "['scalar/gaitbert/hidden_psnr', 'scalar/gaitbert/hidden_ratio', 'scalar/gaitbert/loss', "
     "'scalar/gaitbert/reconstruction']"),
    ("latent", "['encoder', 'frame_embedding', 'latent', 'temporal']",  # the predictor, and the EMA teacher
     "['scalar/gaitbert/hidden_ratio', 'scalar/gaitbert/latent', 'scalar/gaitbert/loss']"),
])
def test_a_step_of_each_phase_trains_its_own_parts_through_opengaits_losses(opengait_root, synth_data, tmp_path,
                                                                            target, pretrained, terms):
    """A pretraining step trains everything but the identity head (and moves the latent target's EMA
    teacher), a fine-tuning step everything but the pretraining's own parts, through OpenGait's loss
    aggregator and train_step; every loss is finite."""
    cfg_file = shipped_config_on_synth_data(opengait_root, synth_data, tmp_path, "gaitbert_casiab_bert.yaml",
                                            pretrain_target=target)
    result = python(built_model(opengait_root, cfg_file, 29536, training=True) + """
        for iteration in (0, model.engine_cfg['total_iter'] - 1):
            model.iteration = iteration
            before = {n: p.detach().clone() for n, p in model.net.named_parameters()}
            loss, info = model.loss_aggregator(model(model.inputs_pretreament(next(iter(model.train_loader))))
                                               ['training_feat'])
            ok = model.train_step(loss)
            moved = sorted({n.split('.')[0] for n, p in model.net.named_parameters()
                            if not torch.equal(before[n], p.detach())})
            print('PHASE', model.phase, bool(torch.isfinite(loss)), ok, moved, sorted(info))
    """, opengait_root, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    phases = [line for line in result.stdout.splitlines() if line.startswith("PHASE")]
    assert phases[0].startswith(f"PHASE pretrain True True {pretrained} {terms}"), phases[0]
    assert phases[1].startswith("PHASE finetune True True ['encoder', 'frame_embedding', 'head', 'temporal'] "), phases[1]
    assert "'scalar/gaitbert/triplet'" in phases[1] and "'scalar/softmax/loss'" in phases[1]
