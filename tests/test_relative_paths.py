"""A config's relative dataset_root / dataset_partition that is not found: check-data and the launcher's
preflight both say what it was resolved against, where it does exist, and how to point at it."""
import json

import pytest
import yaml

from opengait_gaitbert import config_path
from opengait_gaitbert.core.errors import EXIT_USER_ERROR, ConfigError
from opengait_gaitbert.launcher import cli
from opengait_gaitbert.launcher.preflight import preflight


@pytest.fixture
def demo_folder(tmp_path, monkeypatch):
    """What `opengait-gaitbert demo` leaves: gaitbert-demo/{gaitbert_demo.yaml, data/}, whose config says
    ./data; the current directory is the folder above it, as for a user in the repository's root."""
    demo = tmp_path / "gaitbert-demo"
    (demo / "data").mkdir(parents=True)
    (demo / "data" / "partition.json").write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": []}))
    (demo / "gaitbert_demo.yaml").write_text(config_path("gaitbert_demo.yaml").read_text())
    assert yaml.safe_load((demo / "gaitbert_demo.yaml").read_text())["data_cfg"]["dataset_root"] == "./data"
    monkeypatch.chdir(tmp_path)
    return demo


def test_check_data_says_a_relative_root_was_resolved_against_the_current_directory(demo_folder, tmp_path, capsys):
    code = cli.main(["check-data", "--cfgs", "gaitbert-demo/gaitbert_demo.yaml"])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert "--cfgs gaitbert-demo/gaitbert_demo.yaml: data_cfg.dataset_root = ./data: not found" in err
    assert f"./data is relative, so it was resolved against the current directory, {tmp_path}, " \
           f"giving {tmp_path / 'data'} (it exists relative to {demo_folder})" in err
    assert "Run check-data from the folder the path is relative to" in err and "absolute path with --root" in err
    # a relative --partition given on the command line is named as such
    code = cli.main(["check-data", "--root", str(demo_folder / "data"), "--partition", "partition.json"])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert "--partition partition.json: not found. partition.json is relative, so it was resolved against the " \
           f"current directory, {tmp_path}, giving {tmp_path / 'partition.json'}" in err


def test_check_data_runs_from_the_folder_the_config_expects(demo_folder, monkeypatch, capsys):
    monkeypatch.chdir(demo_folder)
    assert cli.main(["check-data", "--cfgs", "gaitbert_demo.yaml", "--no-progress"]) == 0
    assert "0 problem(s)" in capsys.readouterr().out


def test_preflight_says_a_relative_root_was_resolved_against_the_working_directory(demo_folder, tmp_path):
    cfgs = yaml.safe_load((demo_folder / "gaitbert_demo.yaml").read_text())
    opengait_clone = tmp_path / "OpenGait"  # the launcher's default working directory
    opengait_clone.mkdir()
    with pytest.raises(ConfigError) as caught:
        preflight(cfgs, "gaitbert-demo/gaitbert_demo.yaml", "train", "cpu", 1, opengait_clone)
    message = str(caught.value)
    assert message.startswith("gaitbert-demo/gaitbert_demo.yaml: data_cfg.dataset_root = './data' does not exist.")
    assert "./data is relative, so it was resolved against the run's working directory (--workdir; by default " \
           f"the OpenGait clone), {opengait_clone}, giving {opengait_clone / 'data'} (it exists relative to " \
           f"{demo_folder})" in message
    assert "--set data_cfg.dataset_root=/absolute/path" in message and "--workdir" in message
    cfgs["data_cfg"]["dataset_root"] = str(tmp_path / "nowhere")  # absolute: nothing to resolve, nothing said
    with pytest.raises(ConfigError) as caught:
        preflight(cfgs, "gaitbert-demo/gaitbert_demo.yaml", "train", "cpu", 1, opengait_clone)
    assert "is relative" not in str(caught.value) and "make one with `opengait-gaitbert synth`" in str(caught.value)
