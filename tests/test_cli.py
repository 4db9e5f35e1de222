"""The CLI imports only the chosen command's module and exits 0 / 2 (user error) / 1 (internal error)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from opengait_gaitbert.core.errors import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, DataError
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


def test_user_error_exits_2_and_internal_error_is_raised(monkeypatch, capsys):
    def user_error(args):
        raise DataError("seq.pkl: broken. Fix it.")

    def bug(args):
        raise ZeroDivisionError("a bug")

    for handler, expected in ((user_error, EXIT_USER_ERROR), (bug, None)):
        monkeypatch.setattr("opengait_gaitbert.launcher.checkdata.main", handler)
        if expected is None:  # not caught: Python prints the traceback and exits with status 1
            with pytest.raises(ZeroDivisionError):
                cli.main(["check-data"])
        else:
            assert cli.main(["check-data"]) == expected
            assert "opengait-gaitbert check-data: error: seq.pkl: broken. Fix it." in capsys.readouterr().err


def test_internal_error_exits_1_with_a_traceback(tmp_path):
    """An uncaught exception in a command is Python's exit status 1 with its traceback."""
    code = ("import sys; from opengait_gaitbert.launcher import cli, checkdata\n"
            "def bug(args): raise ZeroDivisionError('a bug')\n"
            "checkdata.main = bug\n"
            "sys.exit(cli.main(['check-data']))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == EXIT_INTERNAL_ERROR == 1
    assert "Traceback" in done.stderr and "ZeroDivisionError: a bug" in done.stderr
