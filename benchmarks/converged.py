"""The converged protocol: every arm trained until its clean rank-1 levels off, on two generators.

    python -m benchmarks.converged --opengait PATH [--generators synth,bodies] [--seeds 0,1,2,3,4]
                                   [--arms GaitBERT,GaitBERT-supervised,GaitBase,GaitBase-no-da]
    python -m benchmarks.converged --report                  # the tables and plot again, no training

Every arm trains through the launcher (OpenGait's own trainer, sampler and evaluator) on the
same data, batch and number of optimizer steps, at the same widths (every channel width / 8)
and the same frame size. Frames are shrunk, not training: the generators' 64x64 pkl are
resized to 32x32 (OpenGait's pretreatment at ``--img_size 32``, area-averaged), which the
models see as 32x22 (``BaseSilCuttingTransform`` with ``cutting: 5``), horizontal parts
halved to 8 strips. Each run tests itself ``POINTS`` times during training (OpenGait's
``with_test`` at every ``save_iter``): the learning curve. A run's result is one JSON file
under ``results/converged/runs/``, so the protocol resumes where it stopped and never trains
what it has.

Arms (``ARMS``): ``GaitBERT``, BERT's recipe in one run (``gaitbert_casiab_bert.yaml``:
masked-frame pretraining for the first ``pretrain_fraction`` of the steps, then fine-tuning; the
pretraining steps count in the budget), its standing ablation ``GaitBERT-supervised`` (the shipped
default ``gaitbert_casiab.yaml``: the same network and steps, identities from the first step), and
OpenGait's GaitBase with its DA recipe and without it. ``VARIANTS`` are further variants of the
recipe, judged the same way. ``GaitBERT-two-config`` is the two-config route: a separate
pretraining run over the training walks without labels, then a fine-tuning run from its checkpoint,
the two runs' steps adding up to the same budget. ``<arm>@<percent>`` trains with identity labels
for that share of the training ids only; the two-config route still pretrains on every training
walk: label efficiency.

Every final checkpoint is also evaluated on corrupted probes (``benchmarks.robustness``'s
kinds at their target severity, applied to the 64x64 probes, then resized like the clean
data). The report (``benchmarks.converged_report``) gives learning curves, final rank-1 with
paired differences and 95 % intervals (Student's t over seeds), and figures at equal wall-clock
time from the measured time per step of each arm (``--step-times``: one step of each arm,
interleaved round by round).
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import sys
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

if __package__ in (None, ""):  # python benchmarks/converged.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import accuracy, common, robustness  # noqa: E402
from benchmarks.common import ALL_VIEWS, GENERATORS, PROTOCOL_TYPES, Size, say  # noqa: E402

RESULTS = common.RESULTS / "converged"
PKL_SIDE = 32          # pkl frames resized to 32x32 ...
CUTTING = 5            # ... and cut to 32x22 (BaseSilCuttingTransform's 10 of 64, halved)
PARTS = 8              # horizontal strips: the bottleneck is 8 rows high at 32x22
POINTS = 4             # tests per run: the learning curve
#: the size: widths / 8, 16 training and 16 test ids, 11 views, 40-frame sequences, P x K = 4 x 4
SIZE = Size("converged", width_divisor=8, ids=32, views=ALL_VIEWS, frames=40, iters=1200, batch=(4, 4),
            seeds=(0, 1, 2, 3, 4), robust_seeds=(0, 1, 2, 3, 4), robust_levels="target", robust_pack=1)

_CUT = f"{{type: BaseSilCuttingTransform, cutting: {CUTTING}}}"
#: GaitBase's learning-rate milestones as fractions of its schedule (20k, 40k, 50k of 60k)
GAITBASE_MILESTONES = (1 / 3, 2 / 3, 5 / 6)
#: GaitBase's schedule as overrides of gaitbert_casiab.yaml at full width (its 60k iterations): one learning
#: rate for every part and GaitBase's milestones. BERT's recipe trains on it, so its ablation keeps it;
#: gaitbert_casiab.yaml's own schedule since 2026-12-07 is the fine-tuning one (the two-config route's ablation)
GAITBASE_SCHEDULE = ["model_cfg.part_lr={}",
                     f"scheduler_cfg.milestones={[round(f * 60000) for f in GAITBASE_MILESTONES]}"]
#: name -> (model, recipe file or None for the model's own config, overrides at full width)
ARMS: Dict[str, Tuple[str, Optional[str], List[str]]] = {
    "GaitBERT": ("GaitBERT", "gaitbert_casiab_bert.yaml", []),
    "GaitBERT-supervised": ("GaitBERT", "gaitbert_casiab.yaml", GAITBASE_SCHEDULE),
    "GaitBase": ("GaitBase", None, []),
    "GaitBase-no-da": ("GaitBase", None, [f"trainer_cfg.transform=[{_CUT}]"]),
}
#: further GaitBERT recipes: BERT's recipe with these overrides (a changed pretrain_fraction moves the
#: learning-rate milestones with the phase boundary, as the shipped configs place them: ``phase_milestones``)
VARIANTS: Dict[str, List[str]] = {
    "GaitBERT-latent": ["model_cfg.pretrain_target=latent"],
    "GaitBERT-pretrain-0.5": ["model_cfg.pretrain_fraction=0.5"],
    "GaitBERT-ratio-0.75": ["trainer_cfg.transform.0.ratio=0.75"],
}
#: the two-config route (``docs/pretraining.md``): a separate masked-frame pretraining run over every
#: training walk without labels (``gaitbert_pretrain_folder.yaml``, about the one-run recipe's first 30 % of
#: the steps), then a fine-tuning run from its checkpoint (``gaitbert_finetune_casiab.yaml``) for the rest
TWO_CONFIG = "GaitBERT-two-config"
TWO_CONFIG_PRETRAIN = 0.3
#: its standing ablation: the fine-tuning config from random weights for every step (the pretrained parts'
#: learning rate, part_lr, as in fine-tuning): the same network, recipe and budget without the pretraining
TWO_CONFIG_SCRATCH = "GaitBERT-two-config-scratch"
#: the two-config route's first run, under the run directory of its generator and seed (shared by its label shares)
PRETRAINING = "GaitBERT-two-config-pretraining"
#: arms that take ``@<percent>``: identity labels for that percent of the training ids only (the first ones).
#: The two-config route still pretrains on every training walk, without labels: what label efficiency asks.
LABELLED_ARMS = ("GaitBERT-supervised", "GaitBase", "GaitBase-no-da", TWO_CONFIG, TWO_CONFIG_SCRATCH)
BASELINES = ("GaitBase", "GaitBase-no-da")
MODEL, ABLATION = "GaitBERT", "GaitBERT-supervised"
#: a test-time arm: BERT's recipe's final checkpoints, each probe completed first by the network of
#: its pretraining phase (``model_cfg.test_completion``); nothing is trained for it
COMPLETION = "GaitBERT+completion"
#: what each arm trains, for the report (the names stay those of the result files)
ARM_LEGEND = {
    "GaitBERT": "BERT's recipe, `gaitbert_casiab_bert.yaml` (masked-frame pretraining, then fine-tuning)",
    "GaitBERT-supervised": "its ablation: `gaitbert_casiab.yaml` on GaitBase's schedule (the shipped default "
                           "until 2026-12-07): the same network, schedule and budget without pretraining",
    "GaitBase": "OpenGait's GaitBase with its DA recipe",
    "GaitBase-no-da": "GaitBase without its DA",
    **{name: "BERT's recipe with " + ", ".join(f"`{o}`" for o in overrides) for name, overrides in VARIANTS.items()},
    COMPLETION: "BERT's recipe, tested with `test_completion` (its boundary checkpoint)",
    TWO_CONFIG: "the two-config route: `gaitbert_pretrain_folder.yaml` over every training walk without labels, "
                "then `gaitbert_finetune_casiab.yaml` from its checkpoint, 30 % and 70 % of the steps",
    TWO_CONFIG_SCRATCH: "its ablation: `gaitbert_finetune_casiab.yaml` from random weights for every step, "
                        "which is what the shipped default `gaitbert_casiab.yaml` trains since 2026-12-07",
    "<arm>@<percent>": "the arm with identity labels for that percent of the training ids only",
}


#: every arm name without a label share
FULL_LABEL_ARMS = (*ARMS, *VARIANTS, TWO_CONFIG, TWO_CONFIG_SCRATCH)


def labelled_share(name: str) -> Tuple[str, int]:
    """``"GaitBERT-supervised@25"`` -> ``("GaitBERT-supervised", 25)``; an arm without ``@`` has every label."""
    base, _, percent = name.partition("@")
    return base, int(percent) if percent.isdigit() else 100


def unknown_arms(names: Sequence[str]) -> List[str]:
    """The names that are no arm: neither an arm, a variant or the two-config route, nor a labelled arm at
    1-99 percent."""
    bad = []
    for name in names:
        base, _, percent = name.partition("@")
        if "@" in name:
            ok = base in LABELLED_ARMS and percent.isdigit() and 0 < int(percent) < 100
        else:
            ok = name in FULL_LABEL_ARMS
        if not ok:
            bad.append(name)
    return bad


def finetune_steps(iters: int) -> int:
    """The two-config route's fine-tuning steps: about 70 % of ``iters``, a multiple of 2 x ``POINTS`` (its tests)."""
    return max(2 * POINTS, round((1 - TWO_CONFIG_PRETRAIN) * iters / (2 * POINTS)) * 2 * POINTS)


def labelled_partition(data: Path, percent: int) -> Path:
    """A partition beside ``data`` whose training ids are the first ``percent`` % of its own (two at least:
    a triplet needs a negative); the test ids are the same."""
    full = json.loads((data / "partition.json").read_text())
    path = data.parent / f"{data.name}-labels{percent}.json"
    text = json.dumps({"TRAIN_SET": common.first_share(full["TRAIN_SET"], percent), "TEST_SET": full["TEST_SET"]})
    if not path.is_file() or path.read_text() != text:
        partial_file = path.with_suffix(f".{os.getpid()}.tmp")  # parallel runs never read half a file
        partial_file.write_text(text)
        partial_file.replace(path)
    return path


def arm_spec(name: str) -> Tuple[str, Optional[str], List[str]]:
    """(model, recipe file or None, overrides) of an arm, without its label share."""
    if name in ARMS:
        return ARMS[name]
    if name in (TWO_CONFIG, TWO_CONFIG_SCRATCH):
        return "GaitBERT", "gaitbert_finetune_casiab.yaml", []
    return "GaitBERT", "gaitbert_casiab_bert.yaml", VARIANTS[name]


def small_frame_overrides(model: str, cfg: dict) -> List[str]:
    """32x22 frames: the cut, the parts and (GaitBERT) the sampler's patch size, halved like the frame."""
    sets = [f"evaluator_cfg.transform=[{_CUT}]"]
    if model == "GaitBERT":
        sets += ["model_cfg.frame_size=[32, 22]", f"model_cfg.bin_num=[{PARTS}]"]
        first = cfg["trainer_cfg"]["transform"][0]
        if first["type"] == "MaskedFrameSampler":
            sets += [f"trainer_cfg.transform.0.cutting={CUTTING}",
                     f"trainer_cfg.transform.0.patch_size={first.get('patch_size', 32) // 2}"]
        else:
            sets.append(f"trainer_cfg.transform=[{_CUT}]")
        return sets
    sets += [f"model_cfg.bin_num=[{PARTS}]", f"model_cfg.SeparateFCs.parts_num={PARTS}",
             f"model_cfg.SeparateBNNecks.parts_num={PARTS}"]
    first = cfg["trainer_cfg"]["transform"][0]
    if first["type"] == "Compose":  # GaitBase's DA: BaseSilCuttingTransform, RandomRotate, RandomErasing
        sets.append(f"trainer_cfg.transform.0.trf_cfg.0.cutting={CUTTING}")
    else:
        sets.append(f"trainer_cfg.transform=[{_CUT}]")
    return sets


def phase_milestones(fraction: float, iters: int) -> List[int]:
    """GaitBase's milestones placed in the fine-tuning phase, as the shipped phased configs place them."""
    boundary = round(fraction * iters)
    return [round(boundary + (1 - fraction) * m * iters) for m in GAITBASE_MILESTONES]


def arm_config(name: str, root: Path, size: Size, data: Path, device: str,
               pretrained: Optional[Path] = None) -> Tuple[dict, List[str]]:
    """The arm's own recipe at this size, testing itself ``POINTS`` times during training. A labelled
    share trains on its partition, with P shrunk to its ids (OpenGait's TripletSampler draws P ids with
    replacement); the two-config route fine-tunes from ``pretrained`` for ``finetune_steps``."""
    from opengait_gaitbert import config_path
    from opengait_gaitbert.launcher.run import apply_overrides
    arm, percent = labelled_share(name)
    model, recipe, shape = arm_spec(arm)
    base = Path(str(config_path(recipe))) if recipe else None
    partition = labelled_partition(data, percent) if percent < 100 else None
    class_num = len(json.loads((partition or data / "partition.json").read_text())["TRAIN_SET"])
    iters = finetune_steps(size.iters) if arm == TWO_CONFIG else size.iters
    extra = [f"trainer_cfg.restore_hint={pretrained or 0}"] if arm == TWO_CONFIG else []
    cfg, sets = common.build_config(model, root, size, data, class_num, device,
                                    batch=common.triplet_batch(size.batch, class_num), iters=iters, base=base,
                                    partition=partition, extra=extra, shape=shape)
    fraction = cfg["model_cfg"].get("pretrain_fraction", 0) if model == "GaitBERT" else 0
    if arm in VARIANTS and fraction:
        moved = [f"scheduler_cfg.milestones={phase_milestones(fraction, size.iters)}"]
        cfg, sets = apply_overrides(cfg, moved), sets + moved
    every = iters // POINTS
    curve = [f"trainer_cfg.save_iter={every}", "trainer_cfg.with_test=true", f"trainer_cfg.log_iter={every // 2}"]
    shrink = small_frame_overrides(model, cfg)
    return apply_overrides(cfg, shrink + curve), sets + shrink + curve


def pretraining_run(generator: str, seed: int, root: Path, work: Path, size: Size, device: str) -> dict:
    """The two-config route's first run on one dataset: masked-frame pretraining over every training walk
    without labels, for the steps its fine-tuning leaves; trained once, reused by every label share."""
    from benchmarks.label_efficiency import pretrain_config
    from opengait_gaitbert.launcher.run import apply_overrides
    _, data = dataset(work, generator, seed)
    cfg, sets = pretrain_config(root, size, data, size.iters - finetune_steps(size.iters), device)
    shrink = small_frame_overrides("GaitBERT", cfg)
    return accuracy.train_and_test(PRETRAINING, seed, apply_overrides(cfg, shrink), sets + shrink, root,
                                   work / generator, device, reuse=True, test=False)


# ----------------------------------------------------------------------------------------
# Data: the generators' 64x64 pkl, resized
# ----------------------------------------------------------------------------------------

def resize_tree(src: Path, dst: Path, side: int = PKL_SIDE) -> Path:
    """Every pkl under ``src`` resized to ``side`` x ``side`` (area-averaged, uint8) under ``dst``,
    with the partition; written once (a stamp names the source's own stamp)."""
    import cv2

    from opengait_gaitbert.data.safe_pickle import load_pickle
    marker = dst / ".bench-stamp.json"
    source = src / ".bench-stamp.json"
    stamp = {"side": side, "src": json.loads(source.read_text()) if source.is_file() else str(src)}
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return dst
    if dst.exists():
        shutil.rmtree(dst)
    for pkl in sorted(src.rglob("*.pkl")):
        frames = np.asarray(load_pickle(pkl))
        small = np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in frames]) \
            if len(frames) else frames.reshape(0, side, side)
        target = dst / pkl.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as fh:
            pickle.dump(small.astype(np.uint8), fh, protocol=pickle.HIGHEST_PROTOCOL)
    shutil.copy(src / "partition.json", dst / "partition.json")
    marker.write_text(json.dumps(stamp))
    return dst


def dataset(work: Path, generator: str, seed: int) -> Tuple[Path, Path]:
    """(the 64x64 dataset, its 32x32 copy) of one generator and seed."""
    size = Size(**{**asdict(SIZE), "generator": generator})
    full = common.synth_data(work / "data" / f"{generator}-seed{seed}", size, seed)
    return full, resize_tree(full, work / "data32" / f"{generator}-seed{seed}")


def corrupted_folders(work: Path, full: Path, seed: int, generator: str) -> Dict[str, str]:
    """Each corruption at its target severity, applied to the 64x64 probes, then resized to 32x32."""
    conds = robustness.conditions(SIZE)
    big = robustness.corrupted_datasets(full, work / "robust-data" / f"{generator}-seed{seed}", conds, seed)
    return {name: str(resize_tree(Path(folder), work / "robust-data32" / f"{generator}-seed{seed}" / name))
            for name, folder in big.items()}


# ----------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------

def run_file(results: Path, generator: str, seed: int, arm: str) -> Path:
    return results / "runs" / f"{generator}-seed{seed}-{arm}.json"


def learning_curve(log_lines: Sequence[str], every: int, start: int = 0) -> List[dict]:
    """The rank-1 of every test a training log holds, in order: ``[{iter, NM, BG, CL}]``, counting steps
    from ``start`` (the steps of an earlier run of the same arm)."""
    from opengait_gaitbert.launcher.demo import RESULT_LINE
    points = []
    for line in log_lines:
        found = dict(RESULT_LINE.findall(line))
        if set(found) == set(PROTOCOL_TYPES):
            points.append({"iter": start + every * (len(points) + 1), **{k: float(v) for k, v in found.items()}})
    return points


def train_run(arm: str, generator: str, seed: int, root: Path, work: Path, results: Path, size: Size,
              device: str) -> dict:
    """Train one arm on one dataset, test it along the way and on corrupted probes; write its result file."""
    out = run_file(results, generator, seed, arm)
    if out.is_file():
        say(f"[converged] {generator} seed {seed} {arm}: done before ({out.name})")
        return json.loads(out.read_text())
    full, data = dataset(work, generator, seed)
    two_config = labelled_share(arm)[0] == TWO_CONFIG
    pretraining = pretraining_run(generator, seed, root, work, size, device) if two_config else None
    cfg, sets = arm_config(arm, root, size, data, device, Path(pretraining["checkpoint"]) if pretraining else None)
    where = work / generator
    log = where / "logs" / f"train-seed{seed}-{accuracy.run_dir(where, seed, arm).name}.log"
    log.unlink(missing_ok=True)  # the launcher appends: a run stopped before left its lines there
    started = time.time()
    record = accuracy.train_and_test(arm, seed, cfg, sets, root, where, device, reuse=False, test=False)
    wall = time.time() - started  # this run's own: a shared pretraining run is in its log, not here
    steps = cfg["trainer_cfg"]["total_iter"]
    curve = learning_curve(log.read_text(errors="replace").splitlines(), steps // POINTS, size.iters - steps)
    if len(curve) != POINTS:
        raise common.LaunchFailed(f"{arm} {generator} seed {seed}: {len(curve)} tests in {log}, expected {POINTS}")
    record.update(variant=arm)
    robust = robustness.evaluate_run(record, corrupted_folders(work, full, seed, generator), root, where, size, device)
    result = {"arm": arm, "generator": generator, "seed": seed, "iters": size.iters,
              "width_divisor": size.width_divisor, "curve": curve,
              "overrides": sets, "train_wall_s": wall,
              **({"pretraining_overrides": pretraining["overrides"], "pretraining_checkpoint": pretraining["checkpoint"]}
                 if pretraining else {}),
              "clean": robust["clean"], "conditions": robust["conditions"],
              "machine": common.environment_line()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1).replace(str(work), "<workdir>") + "\n")
    say(f"[converged] {generator} seed {seed} {arm}: curve "
        + ", ".join(f"{p['iter']}: {mean3(p):.1f}" for p in curve) + f" ({wall:.0f}s wall)")
    return result


def pretraining_checkpoint(final: Path, boundary: int) -> Path:
    """The run's checkpoint at its phase boundary, else its last one before it (runs that predate the
    boundary checkpoint saved only every ``save_iter``)."""
    from opengait_gaitbert.core.training_state import checkpoint_iteration, saved_checkpoints
    earlier = [p for p in saved_checkpoints(final) if checkpoint_iteration(p) <= boundary]
    if not earlier:
        raise common.LaunchFailed(f"no checkpoint at or before iteration {boundary} beside {final}")
    return earlier[0]


def completion_run(generator: str, seed: int, root: Path, work: Path, results: Path, device: str) -> dict:
    """Evaluate BERT's recipe's final checkpoint with test-time completion, clean and corrupted."""
    import yaml

    from opengait_gaitbert.core.model import NetworkConfig
    out = run_file(results, generator, seed, COMPLETION)
    if out.is_file():
        return json.loads(out.read_text())
    base = json.loads(run_file(results, generator, seed, MODEL).read_text())
    where = work / generator
    workdir = accuracy.run_dir(where, seed, MODEL)
    cfg = yaml.safe_load((workdir / f"{workdir.name}.yaml").read_text())
    final = accuracy.checkpoint(cfg, workdir)
    boundary = NetworkConfig.from_dict(cfg["model_cfg"]).pretrain_iterations(cfg["trainer_cfg"]["total_iter"])
    completer = pretraining_checkpoint(final, boundary)
    cfg["model_cfg"]["test_completion"] = str(completer)
    cfg_file = common.write_yaml(cfg, workdir / f"{workdir.name}-completion.yaml")
    run = {"model": "GaitBERT", "variant": COMPLETION, "seed": seed, "workdir": str(workdir), "cfg_file": str(cfg_file),
           "checkpoint": str(final), "robust_dir": "robustness-completion"}
    full, _ = dataset(work, generator, seed)
    robust = robustness.evaluate_run(run, corrupted_folders(work, full, seed, generator), root, where, SIZE, device)
    result = {**base, "arm": COMPLETION, "completer": completer.name, "clean": robust["clean"],
              "conditions": robust["conditions"], "machine": common.environment_line()}
    out.write_text(json.dumps(result, indent=1).replace(str(work), "<workdir>") + "\n")
    say(f"[converged] {generator} seed {seed} {COMPLETION} ({completer.name}): clean {mean3(robust['clean']):.1f}")
    return result


def mean3(point: dict) -> float:
    return sum(point[c] for c in PROTOCOL_TYPES) / len(PROTOCOL_TYPES)


def load_runs(results: Path) -> Dict[str, Dict[str, Dict[int, dict]]]:
    """generator -> arm -> seed -> run."""
    runs: Dict[str, Dict[str, Dict[int, dict]]] = {}
    for path in sorted((results / "runs").glob("*.json")):
        run = json.loads(path.read_text())
        runs.setdefault(run["generator"], {}).setdefault(run["arm"], {})[run["seed"]] = run
    return runs


def measure_step_times(root: Path, work: Path, results: Path, arms: Sequence[str], rounds: int = 15,
                       warmup: int = 3) -> Dict[str, float]:
    """Seconds per optimizer step of each arm at this size, interleaved round by round in one worker
    process per arm (``benchmarks.speed``'s workers: OpenGait's own model, one thread, the run's own
    batch and transform), so that a shared machine's slow drifts cancel in the ratios. A GaitBERT
    recipe with a pretraining phase is timed in both phases and weighted by its share of steps."""

    from benchmarks import speed
    from opengait_gaitbert.core.model import NetworkConfig
    from opengait_gaitbert.launcher.run import ensure_default_config
    _, data = dataset(work, "synth", 0)
    where = work / "step-times"
    ensure_default_config(where, root)
    entries: Dict[str, Tuple[str, Optional[str]]] = {}  # timed entry -> (arm, GaitBERT phase)
    fractions: Dict[str, float] = {}
    workers = {}
    try:
        for arm in arms:
            cfg, _ = arm_config(arm, root, SIZE, data, "cpu")
            cfg["evaluator_cfg"]["restore_hint"] = 0
            cfg_file = common.write_yaml(cfg, where / "configs" / f"{arm}.yaml")
            workers[arm] = speed.Worker(arm, "train", cfg_file, root, where, 1, where / "logs" / f"{arm}.log")
            fraction = NetworkConfig.from_dict(cfg["model_cfg"]).pretrain_fraction \
                if cfg["model_cfg"]["model"] == "GaitBERT" else 0.0
            fractions[arm] = fraction
            phases = ("pretrain", "finetune") if fraction else (None,)
            entries.update({f"{arm}/{phase}" if phase else arm: (arm, phase) for phase in phases})
        times: Dict[str, List[float]] = {name: [] for name in entries}
        for w in workers.values():
            w.ready()
        for r in range(warmup + rounds):
            for name in speed._rotation(r, list(entries)):
                arm, phase = entries[name]
                t = workers[arm].call(f"train {phase}" if phase else "train")["t"]
                if r >= warmup:
                    times[name].append(t)
            say(f"[converged] step times, round {r + 1}: " + ", ".join(f"{n} {v[-1]:.3f}s" for n, v in times.items()
                                                                      if v))
    finally:
        for w in workers.values():
            w.close()
    per_arm = {}
    for arm in arms:
        f = fractions[arm]
        per_round = ([f * a + (1 - f) * b for a, b in zip(times[f"{arm}/pretrain"], times[f"{arm}/finetune"])]
                     if f else times[arm])
        per_arm[arm] = common.median(per_round)
    out = {"seconds_per_step": per_arm, "entries": {n: common.median(v) for n, v in times.items()},
           "rounds": rounds, "machine": common.environment_line(), "threads": 1}
    (results / "step_times.json").write_text(json.dumps(out, indent=1) + "\n")
    return per_arm


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opengait", help="OpenGait clone (default: $OPENGAIT_ROOT)")
    parser.add_argument("--workdir", default=str(common.DEFAULT_WORK / "converged"),
                        help="data, checkpoints and logs; keep it out of the repository")
    parser.add_argument("--results", default=str(RESULTS), help=f"result files (default {RESULTS})")
    parser.add_argument("--generators", default="synth,bodies")
    parser.add_argument("--seeds", default=",".join(map(str, SIZE.seeds)))
    parser.add_argument("--arms", default=",".join(ARMS),
                        help=f"of {', '.join(FULL_LABEL_ARMS)}; "
                             f"{', '.join(LABELLED_ARMS)} also as <arm>@<percent> of the labels")
    parser.add_argument("--iters", type=int, default=SIZE.iters, help="optimizer steps per run (a smoke run: fewer)")
    parser.add_argument("--width-divisor", type=int, default=SIZE.width_divisor,
                        help="every model's channel widths / this (1: full width, for a GPU; use its own --results)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (each gets cores / jobs threads)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--step-times", action="store_true",
                        help="time one optimizer step of each arm, interleaved (results/step_times.json: the "
                             "equal-time table), instead of training")
    parser.add_argument("--completion", action="store_true",
                        help=f"evaluate BERT's recipe's trained runs with test-time completion ({COMPLETION})")
    parser.add_argument("--report", action="store_true", help="rewrite the report from the result files only")
    args = parser.parse_args(argv)
    results = Path(args.results).resolve()
    if args.step_times:
        measure_step_times(common.opengait_root(args.opengait), Path(args.workdir).resolve(), results,
                           [a.strip() for a in args.arms.split(",") if a.strip()])
    elif args.completion:
        root, work = common.opengait_root(args.opengait), Path(args.workdir).resolve()
        done = [(r["generator"], r["seed"]) for arms in load_runs(results).values() for r in arms.get(MODEL, {}).values()]
        common.run_parallel([partial(completion_run, g, s, root, work, results, args.device) for g, s in done], args.jobs)
    elif not args.report:
        arms = [a.strip() for a in args.arms.split(",") if a.strip()]
        unknown = unknown_arms(arms)
        if unknown:
            parser.error(f"--arms: unknown {unknown}; choose from {', '.join(FULL_LABEL_ARMS)}, "
                         f"or one of {', '.join(LABELLED_ARMS)} with @<percent> (1-99)")
        generators = [g.strip() for g in args.generators.split(",") if g.strip()]
        bad = [g for g in generators if g not in GENERATORS]
        if bad:
            parser.error(f"--generators: unknown {bad}; choose from {', '.join(GENERATORS)}")
        size = Size(**{**asdict(SIZE), "iters": args.iters, "width_divisor": args.width_divisor})
        if size.iters % POINTS or (size.iters // POINTS) % 2:
            parser.error(f"--iters must be a multiple of {2 * POINTS} (a test every iters/{POINTS} steps)")
        root = common.opengait_root(args.opengait)
        work = Path(args.workdir).resolve()
        seeds = [int(s) for s in args.seeds.split(",")]
        for seed in seeds:  # data first, one at a time: parallel runs of one dataset must not both write it
            for generator in generators:
                full, _ = dataset(work, generator, seed)
                corrupted_folders(work, full, seed, generator)
        if any(labelled_share(a)[0] == TWO_CONFIG for a in arms):  # first, so label shares never train it twice
            common.run_parallel([partial(pretraining_run, generator, seed, root, work, size, args.device)
                                 for seed in seeds for generator in generators], args.jobs)
        tasks = [partial(train_run, arm, generator, seed, root, work, results, size, args.device)
                 for seed in seeds for generator in generators for arm in arms]
        say(f"[converged] {len(tasks)} runs ({len(arms)} arms x {len(generators)} generators x {len(seeds)} seeds), "
            f"{args.jobs} at a time")
        common.run_parallel(tasks, args.jobs)
    from benchmarks.converged_report import report
    timing = results / "step_times.json"
    say(report(results, json.loads(timing.read_text())["seconds_per_step"] if timing.is_file() else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
