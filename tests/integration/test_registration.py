"""After pip install, OpenGait's own imports see GaitBERT's names; the model builds from the shipped config."""
import json
import re
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


@pytest.mark.parametrize("name", ["gaitbert_casiab_masked.yaml", "gaitbert_casiab_transformer.yaml",
                                  "gaitbert_casiab_unet.yaml"])
def test_model_builds_from_shipped_config_and_runs_a_batch(opengait_root, synth_data, tmp_path, name):
    """GaitBERT(cfgs, training) from a shipped CASIA-B recipe, in a gloo process group on CPU."""
    cfg_file = shipped_config_on_synth_data(opengait_root, synth_data, tmp_path, name)
    result = python(built_model(opengait_root, cfg_file, 29533, training=True) + """
        inputs = model.inputs_pretreament(next(iter(model.train_loader)))
        out = model(inputs)
        n_params = sum(p.numel() for p in model.parameters())
        feat = out['training_feat']
        print('PARAMS', n_params)
        print('SHAPES', tuple(inputs[0][0].shape), tuple(feat['gaitbert']['reconstruction'].shape),
              tuple(feat['gaitbert']['target'].shape), tuple(out['inference_feat']['embeddings'].shape),
              sorted(feat))
        print('SEQL', inputs[4].reshape(-1).tolist())
    """, opengait_root, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    shapes = [line for line in result.stdout.splitlines() if line.startswith("SHAPES")][0]
    seqL = json.loads([line for line in result.stdout.splitlines() if line.startswith("SEQL")][0].split(" ", 1)[1])
    # unfixed_ordered packs the 2x2 clips of 10..40 frames: [1, sum(seqL), 3, 64, 44]; the decoder
    # reconstructs the first of them (reconstruct_fraction: 0.125 or 0.25 of 4), and the loss's target matches
    packed, recon, losses = re.match(r"SHAPES \(1, (\d+), 3, 64, 44\) \(1, (\d+), 64, 44\) \(1, \2, 64, 44\) "
                                     r"\(4, 256, 32\) (.*)", shapes).group(1, 2, 3)
    assert len(seqL) == 4 and all(10 <= n <= 40 for n in seqL) and int(packed) == sum(seqL)
    assert int(recon) == seqL[0] and losses == "['gaitbert', 'softmax']"
    params = int([line for line in result.stdout.splitlines() if line.startswith("PARAMS")][0].split()[1])
    assert 1e6 < params < 2e7


def test_the_shipped_default_runs_a_batch_without_a_masked_pass(opengait_root, synth_data, tmp_path):
    """gaitbert_casiab.yaml (reconstruct_fraction 0): no decoder weights, no reconstruction in the
    loss's inputs, the identity losses on the clean clips."""
    cfg_file = shipped_config_on_synth_data(opengait_root, synth_data, tmp_path)
    result = python(built_model(opengait_root, cfg_file, 29534, training=True) + """
        out = model(model.inputs_pretreament(next(iter(model.train_loader))))
        feat = out['training_feat']
        print('DEFAULT', sum(p.numel() for p in model.net.decoder.parameters()), sorted(feat),
              sorted(feat['gaitbert']), tuple(out['inference_feat']['embeddings'].shape))
    """, opengait_root, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    line = [line for line in result.stdout.splitlines() if line.startswith("DEFAULT")][0]
    assert line == "DEFAULT 0 ['gaitbert', 'softmax'] ['embeddings', 'labels'] (4, 256, 32)", line


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


@pytest.mark.parametrize("view,fraction,rows,ce_rows", [("clean", 0.125, 4, 4), ("masked", 1.0, 4, 4),
                                                        ("both", 1.0, 8, 8), ("both", 0.5, 4, 6)])
def test_identity_view_reaches_opengaits_losses_row_for_row(opengait_root, synth_data, tmp_path, view, fraction,
                                                            rows, ce_rows):
    """The identity losses get one embedding row per label (both views: 2 per clip the masked pass
    encodes; with a share of the batch, its masked rows feed the cross-entropy only, since OpenGait's
    TripletLoss needs a balanced P x K batch), OpenGait's loss aggregator takes them, and one training
    step leaves every loss finite."""
    cfg_file = shipped_config_on_synth_data(opengait_root, synth_data, tmp_path, "gaitbert_casiab_masked.yaml",
                                            identity_view=view, reconstruct_fraction=fraction)
    result = python(built_model(opengait_root, cfg_file, 29534, training=True) + """
        inputs = model.inputs_pretreament(next(iter(model.train_loader)))
        feat = model(inputs)['training_feat']
        loss, info = model.loss_aggregator(feat)
        ok = model.train_step(loss)
        print('ROWS', tuple(feat['gaitbert']['embeddings'].shape)[0], tuple(feat['gaitbert']['labels'].shape)[0],
              tuple(feat['softmax']['logits'].shape)[0], bool(torch.isfinite(loss)), ok)
    """, opengait_root, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    line = [line for line in result.stdout.splitlines() if line.startswith("ROWS")][0]
    assert line == f"ROWS {rows} {rows} {ce_rows} True True"
