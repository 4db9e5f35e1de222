"""The CLI imports only the chosen command's module and exits 0 / 2 (user error) / 1 (internal error),
whether or not its reader closes stdout early."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from opengait_gaitbert.core.errors import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR
from opengait_gaitbert.launcher import cli

ROOT = str(Path(__file__).resolve().parents[1])


def imported_by(*argv):
    """Modules loaded by ``opengait-gaitbert ARGV`` in a fresh interpreter, and its exit status.

    Read from ``sys.modules`` (``-X importtime`` misses modules loaded by ``importlib.import_module``).
    """
    entry = ("import json, sys\nfrom opengait_gaitbert.launcher.cli import main\n"
             "try:\n    code = main()\nexcept SystemExit as exit:\n    code = exit.code\n"
             "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n")
    done = subprocess.run([sys.executable, "-c", entry, *argv], cwd=ROOT, capture_output=True, text=True)
    result = json.loads(done.stdout.splitlines()[-1])
    return set(result["modules"]), result["code"]


def test_help_imports_no_torch_and_no_command_module():
    names, code = imported_by("--help")
    assert code == 0 and "opengait_gaitbert.launcher.cli" in names
    assert not {n for n in names if n == "torch" or n.startswith("torch.")}
    assert not {module for module, _ in cli.COMMANDS.values()} & names


def test_a_command_imports_its_own_module_only():
    names, code = imported_by("check-data", "--help")
    assert code == 0 and "opengait_gaitbert.launcher.checkdata" in names
    # check-data reads pkl files with data.pretreat's loader, so that module may load; no other may
    others = {module for module, _ in cli.COMMANDS.values()} - {"opengait_gaitbert.launcher.checkdata",
                                                                 "opengait_gaitbert.data.pretreat"}
    assert not others & names
    assert "torch" not in names


def run_cli(*argv):
    """``opengait-gaitbert ARGV`` in a fresh interpreter: its exit status and stderr."""
    done = subprocess.run([sys.executable, "-m", "opengait_gaitbert.launcher.cli", *argv], cwd=ROOT,
                          capture_output=True, text=True)
    return done.returncode, done.stderr


def test_usage_errors_name_the_command_the_word_and_the_choices():
    """Commands' parsers are built lazily, one per run: a usage error must still say which
    command's usage was wrong, with the word at fault, and exit with the user-error status."""
    code, err = run_cli("chek-data")
    assert code == EXIT_USER_ERROR and "invalid choice: 'chek-data'" in err
    assert all(name in err for name in cli.COMMANDS)  # the valid commands are listed
    # --ckpt is identify's option: check-data's parser, built alone, must not know it
    code, err = run_cli("check-data", "--ckpt", "model.pt")
    assert code == EXIT_USER_ERROR
    assert "usage: opengait-gaitbert check-data" in err and "unrecognized arguments: --ckpt model.pt" in err
    # and the command's own options are there: a missing value is named
    code, err = run_cli("identify", "--ckpt")
    assert code == EXIT_USER_ERROR and "usage: opengait-gaitbert identify" in err and "--ckpt" in err


def test_a_real_user_error_exits_2_with_one_line_naming_it_and_no_traceback(tmp_path, capsys):
    partition = tmp_path / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": []}))
    code = cli.main(["check-data", "--root", str(tmp_path / "missing"), "--partition", str(partition)])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert err.startswith("opengait-gaitbert check-data: error: ") and str(tmp_path / "missing") in err
    assert "Traceback" not in err


def test_an_internal_error_exits_1_with_its_traceback_and_is_not_taken_for_a_user_error(monkeypatch, capsys):
    """A ValueError from a bug is no user error, though ConfigError and DataError are ValueErrors too."""
    def bug(args):
        raise ValueError("a bug deep inside")

    monkeypatch.setattr("opengait_gaitbert.launcher.checkdata.main", bug)
    code = cli.main(["check-data", "--root", "r", "--partition", "p.json"])
    err = capsys.readouterr().err
    assert code == EXIT_INTERNAL_ERROR
    assert "Traceback" in err and "in bug" in err and "ValueError: a bug deep inside" in err
    assert "opengait-gaitbert check-data: internal error" in err and "error: a bug deep inside" not in err


def run_with_reader_gone(*argv, cwd=ROOT):
    """``opengait-gaitbert ARGV | head -0``, with no race: the pipe's read end is closed before the
    command starts, so its first write to stdout meets a reader that has gone. Its status and stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "opengait_gaitbert.launcher.cli", *map(str, argv)], cwd=cwd,
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


def assert_quiet(err):
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err


def test_a_reader_that_leaves_early_changes_neither_the_status_nor_stderr(tmp_path):
    """2 MB of check-data report into a closed pipe: the status is check-data's own (2: it found
    problems), as when the report is read to its end; nothing about the pipe on stderr."""
    partition = tmp_path / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": [f"{i:05d}" for i in range(20000)], "TEST_SET": []}))
    (tmp_path / "root").mkdir()
    code, err = run_with_reader_gone("check-data", "--root", tmp_path / "root", "--partition", partition)
    assert code == EXIT_USER_ERROR
    assert_quiet(err)
    code, err = run_with_reader_gone("--help")
    assert code == 0
    assert_quiet(err)


def test_identify_into_a_closed_pipe_exits_0_and_still_writes_its_json(tiny_gallery, tmp_path):
    """The ranking tables go to a reader that has gone; the command still finishes its work."""
    gallery, cfg = tiny_gallery
    ranking = tmp_path / "ranking.json"
    code, err = run_with_reader_gone("identify", "--cfgs", cfg, "--gallery", gallery, "--probe", gallery,
                                     "--topk", "3", "--json", ranking)
    assert code == 0
    assert_quiet(err)
    assert len(json.loads(ranking.read_text())["probes"]) == 25


def test_demo_help_gives_every_default_and_where_the_demo_writes():
    out = subprocess.run([sys.executable, "-m", "opengait_gaitbert.launcher.cli", "demo", "--help"], cwd=ROOT,
                         capture_output=True, text=True)
    text = re.sub(r"-\s+", "-", " ".join(out.stdout.split()))  # argparse wraps lines, after hyphens too
    assert out.returncode == 0
    for default in ("(default: gaitbert-demo, in the current directory)", "(default: 16)", "(default: 200)",
                    "(default: 40)", "(default: 000,090,180)", "(default: auto)"):
        assert default in text, default
    assert "<workdir>/output" in text
