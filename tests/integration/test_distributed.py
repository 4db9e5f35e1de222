"""Gloo on CPU: world size 2 gives world size 1's loss and gradients for the same global batch,
in a pretraining step (reconstruction) and in a fine-tuning step (triplet + cross-entropy).

BatchNorm runs in eval mode here: its batch statistics are per rank unless
SyncBatchNorm is on, which is CUDA-only, so that difference is not ours to test.
The check runs in float64: in float32 the two summation orders differ by up to
~2e-3 of a tensor's largest gradient (the triplet hinge amplifies rounding), in
float64 by ~1e-15, which shows the maths is the same.
"""
import subprocess
import sys
import textwrap

import torch

WORKER = """
import os, sys
import torch
import torch.distributed as dist
sys.path.insert(0, {opengait!r})
from modeling import losses  # OpenGait; the hook registers GaitBERTLoss
from opengait_gaitbert.core import GaitBERTNet, NetworkConfig

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.set_default_dtype(torch.float64)
torch.manual_seed(0)
net = GaitBERTNet(NetworkConfig(encoder="unet", temporal="transformer", part_columns=1, part_visibility=False,
                                pretrain_fraction=0.3,
                                channels=[4, 8], embed_stride=2, temporal_dim=16, temporal_layers=1, temporal_heads=2,
                                embed_dim=8, class_num=4)).eval()
# each phase leaves part of the network without a gradient (the head, then the decoder)
ddp = torch.nn.parallel.DistributedDataParallel(net, find_unused_parameters=True)
inputs, target = torch.rand(8, 6, 64, 44), torch.rand(8, 6, 64, 44).round()
mask = torch.zeros(8, 6, 64, 44)
mask[:, 2:4] = 1.0  # the same number of hidden pixels in every sequence
labels = torch.arange(4).repeat_interleave(2)
part = slice(rank * 8 // world, (rank + 1) * 8 // world)
loss_fn = losses.GaitBERTLoss(margin=0.2)
saved = {{}}
# a pretraining step: the reconstruction of the hidden positions
out = ddp(inputs[part] * (1 - mask[part]), reconstruct=True)
loss, info = loss_fn(reconstruction=out["reconstruction"], target=target[part], mask=mask[part])
loss.backward()
saved["pretrain"] = {{"loss": float(info["loss"]), "grads": {{n: p.grad.clone() for n, p in net.named_parameters()
                                                             if p.grad is not None}}}}
net.zero_grad(set_to_none=True)
# a fine-tuning step: OpenGait's triplet (all-gathered) and cross-entropy on the embeddings
out = ddp(inputs[part])
loss, info = loss_fn(embeddings=out["embeddings"], labels=labels[part])
ce, _ = losses.CrossEntropyLoss(scale=16)(logits=out["logits"], labels=labels[part])
(loss + ce).backward()
saved["finetune"] = {{"loss": float(info["loss"]), "loss_num": float(info["loss_num"].sum()),
                     "grads": {{n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}}}}
if rank == 0:
    torch.save(saved, {out!r})
# Both ranks tear gloo down together: rank 1 destroying its group while rank 0 still saves
# aborted it once ("terminate called without an active exception", SIGABRT).
dist.barrier()
dist.destroy_process_group()
"""


def run_worker(opengait_root, tmp_path, nproc):
    script = tmp_path / f"worker{nproc}.py"
    out = tmp_path / f"ws{nproc}.pt"
    script.write_text(textwrap.dedent(WORKER.format(opengait=str(opengait_root / "opengait"), out=str(out))))
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             "--nproc_per_node", str(nproc), str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return torch.load(out, weights_only=True)


def test_world_size_two_matches_one(opengait_root, tmp_path):
    one, two = run_worker(opengait_root, tmp_path, 1), run_worker(opengait_root, tmp_path, 2)
    assert one["finetune"]["loss_num"] == two["finetune"]["loss_num"] > 0  # the triplet saw the all-gathered batch
    for phase, unused in (("pretrain", "head."), ("finetune", "decoder.")):
        assert abs(one[phase]["loss"] - two[phase]["loss"]) < 1e-6, phase  # the loss itself is computed in float32
        assert one[phase]["grads"].keys() == two[phase]["grads"].keys()
        assert not any(name.startswith(unused) for name in one[phase]["grads"]), phase
        for name, grad in one[phase]["grads"].items():
            torch.testing.assert_close(two[phase]["grads"][name], grad, rtol=1e-9, atol=1e-12, msg=f"{phase} {name}")
