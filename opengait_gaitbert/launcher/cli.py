"""opengait-gaitbert: one command for training, testing, data and tools.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``main(args) -> int``. Only the chosen command's module is imported, so
``--help`` imports no torch and light commands stay fast.

Exit status: 0 success; 2 a user error (bad usage, config or data: the message
names the file, key and fix; check-data found problems); 1 an internal error
(any other exception: its traceback, then a line asking for a report) or a failed
training/testing run. A reader that closes stdout early (``| head``) changes none of
these (see :class:`_ReaderMayLeave`).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import List, Optional

# command, its module under opengait_gaitbert, its one-line help: a table, read once into COMMANDS.
_COMMAND_TABLE = """
train       launcher.run        train with OpenGait's own main flow (CUDA or CPU)
test        launcher.run        test with OpenGait's evaluator (CUDA or CPU)
demo        launcher.demo       synthetic data -> train -> test -> rank-1 table, in minutes
synth       data.synth          synthetic data: CASIA-B, OU-MVLP, GREW, Gait3D or SUSTech1K layout
pretreat    data.pretreat       convert PNG silhouettes to OpenGait pkl
partition   data.partition      write the partition JSON of a pkl folder (e.g. unlabelled)
check-data  launcher.checkdata  check pkl files before loading them: unsafe, unreadable, malformed; ids without data
visualize   tools.visualize     picture/GIF of what GaitBERT fills in
embed       tools.identify      embeddings of a folder of sequences to .npz
identify    tools.identify      rank gallery identities for each probe
export      tools.export        export the encoder to ONNX or TorchScript
video       video.command       static-camera video -> tracked people -> pkl per person
"""
#: command -> (module, one-line help); only the chosen command's module is ever imported.
COMMANDS = {name: (f"opengait_gaitbert.{module}", help_text)
            for name, module, help_text in (row.split(None, 2) for row in _COMMAND_TABLE.strip().splitlines())}

EPILOG = """examples:
  opengait-gaitbert demo --opengait ~/OpenGait
  opengait-gaitbert train --cfgs configs/gaitbert/gaitbert_casiab.yaml --opengait ~/OpenGait
  opengait-gaitbert test  --cfgs my.yaml --device cpu --nproc 2 --iter 60000
  opengait-gaitbert synth --out data/synth --ids 16 --seed 0
  opengait-gaitbert pretreat --layout casiab CASIA-B-png/ CASIA-B-pkl/

exit status:
  0  success
  2  user error: bad usage, config or data (the message names the file, key and fix)
  1  internal error (with a traceback) or a failed training/testing run
"""


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported and only its arguments are added."""
    parser = argparse.ArgumentParser(
        prog="opengait-gaitbert", description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.command_parsers = {}  # for main's usage errors about words the command does not know
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text,
                                        formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.command_parsers[name] = command_parser
        if name != command:
            continue
        module = importlib.import_module(module_name)
        command_parser.epilog = getattr(module, "EPILOG", None)
        if name in ("train", "test"):
            module.add_arguments(command_parser, phase=name)
        else:
            module.add_arguments(command_parser)
        command_parser.set_defaults(handler=module.main)
    return parser


def chosen_command(argv: List[str]) -> Optional[str]:
    """The subcommand named in ``argv``: the first word that is not an option (the top
    level has no options but ``--help``)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


class _ReaderMayLeave:
    """``sys.stdout`` for one command: once the reader of a pipe has gone (``| head -12``), the
    rest of the output is discarded instead of raising BrokenPipeError.

    A closed pipe means the reader had all it wanted, not that the command failed. So the
    command runs to its end, still writes its files (``--json``, ``--out``) and exits with its
    own status: 0 when its work succeeded, as ``head``-friendly tools do. Not 141 (death by
    SIGPIPE): that would stop the command before those files are written and fail the caller's
    ``set -o pipefail`` for output it chose not to read.
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._discard_from_now_on()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._discard_from_now_on()

    def _discard_from_now_on(self) -> None:
        # Point the descriptor at /dev/null: what is still buffered, later writes, child
        # processes and the interpreter's flush at exit all go there, without an error.
        try:
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):  # not a real file (io.UnsupportedOperation is an OSError)
            self._stream = open(os.devnull, "w")
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)

    def __getattr__(self, name):  # fileno, isatty, encoding, buffer, ...: the real stream's
        return getattr(self._stream, name)


def main(argv: Optional[List[str]] = None) -> int:
    """Parse ``argv``, run the command, and return its exit status (see the module doc)."""
    from ..core.errors import EXIT_INTERNAL_ERROR
    argv = sys.argv[1:] if argv is None else list(argv)
    stdout = sys.stdout
    sys.stdout = _ReaderMayLeave(stdout)  # here once, for every command (and for --help)
    try:
        return _run(argv)
    except Exception:  # noqa: BLE001 - not a GaitBERTError: a bug, whatever its type; shown whole
        traceback.print_exc()
        print(f"opengait-gaitbert {chosen_command(argv) or ''}: internal error (the traceback above): an "
              "exception that no check of this command anticipated. Please report it with the command and "
              "the traceback.", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    finally:
        sys.stdout.flush()  # while a closed pipe is still caught
        sys.stdout = stdout


def _run(argv: List[str]) -> int:
    """Parse and run the command; a user error (GaitBERTError) is printed and gives EXIT_USER_ERROR."""
    from ..core.errors import EXIT_USER_ERROR, GaitBERTError
    parser = build_parser(chosen_command(argv))
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # argparse would print the top-level usage; the command's own says what it takes
        parser.command_parsers[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return int(args.handler(args) or 0)
    except GaitBERTError as err:  # user-caused: the message names the file/key and the fix
        print(f"opengait-gaitbert {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
