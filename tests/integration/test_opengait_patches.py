"""Each patch of ``opengait_gaitbert/adapters/patches.py`` relies on a detail of OpenGait's code:
these tests read that code in the real clone (without importing it), so that an OpenGait change
that would break a patch fails here, by patch and detail. The integration runs (CPU training,
resume, data safety, fault drills) exercise the patches themselves."""
import ast
import re

import pytest

from opengait_gaitbert.adapters import patches


def source(opengait_root, relative: str) -> str:
    return (opengait_root / "opengait" / relative).read_text()


def method(opengait_root, relative: str, cls: str, name: str) -> str:
    """The source of ``cls.name`` in the OpenGait file ``relative``."""
    text = source(opengait_root, relative)
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == name:
                    return ast.get_source_segment(text, item)
    pytest.fail(f"{relative}: {cls}.{name} is gone; the patch that relies on it must change")


def test_every_patch_is_in_the_table():
    for name in ("run_on_cpu", "checkpoint_already_read", "name_unreadable_sequences", "mark_progress",
                 "load_pickles_safely"):
        assert f":func:`{name}`" in patches.__doc__ and callable(getattr(patches, name))


def test_p1_cpu_patch_covers_opengaits_cuda_calls(opengait_root):
    base_model = source(opengait_root, "modeling/base_model.py")
    assert re.search(r"^import torch$", base_model, re.M)  # a module global the patch can replace
    init = "".join(method(opengait_root, "modeling/base_model.py", "BaseModel", "__init__").split())
    assert "torch.cuda.set_device(self.device)" in init and 'torch.device("cuda",self.device)' in init
    for relative in ("utils/common.py", "modeling/loss_aggregator.py", "main.py"):
        assert "get_ddp_module" in source(opengait_root, relative), relative
    assert "class DDPPassthrough" in source(opengait_root, "utils/common.py")


def test_p2_load_ckpt_reads_through_the_module_torch(opengait_root):
    load = method(opengait_root, "modeling/base_model.py", "BaseModel", "_load_ckpt")
    assert "torch.load(save_name" in load  # base_model.torch.load: what the patch answers
    resume = method(opengait_root, "modeling/base_model.py", "BaseModel", "resume_ckpt")
    assert "self._load_ckpt(save_name)" in resume


def test_p3_dataset_items_know_their_sequence(opengait_root):
    getitem = method(opengait_root, "data/dataset.py", "DataSet", "__getitem__")
    init = method(opengait_root, "data/dataset.py", "DataSet", "__init__")
    assert "self.seqs_info" in init and "self.seqs_info[idx]" in getitem


def test_p4_run_train_calls_the_marked_steps(opengait_root):
    run_train = method(opengait_root, "modeling/base_model.py", "BaseModel", "run_train")
    for step in ("inputs_pretreament(", "train_step(", "save_ckpt("):
        assert step in run_train, step
    assert "iteration" in method(opengait_root, "modeling/base_model.py", "BaseModel", "train_step")


def test_p5_dataset_unpickles_through_its_module_pickle(opengait_root):
    dataset = source(opengait_root, "data/dataset.py")
    assert re.search(r"^import pickle$", dataset, re.M)
    loader = method(opengait_root, "data/dataset.py", "DataSet", "__loader__")
    assert "pickle.load(" in loader
    assert "def __init__(self, data_cfg, training)" in dataset
