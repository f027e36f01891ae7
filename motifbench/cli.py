"""The `motifbench` console script.

Each part keeps its own commands beside its code (a `cli.py` exposing
`register(subparsers)`); this module only assembles them so that the parts
never need to import one another's CLIs.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack

from motifbench import __version__
from motifbench.checkpoints import convert_model_argument

#: Modules whose ``register(subparsers)`` adds top-level subcommands, in --help order.
PART_CLIS: tuple[str, ...] = (
    "benchmark.cli",
    "baselines.cli",
    "evaluator.cli",
    "submissions.cli",
    "space_app.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motifbench",
        description="Benchmark for interpretable genomics CNNs: data, baselines, evaluator, leaderboard.",
    )
    parser.add_argument("--version", action="version", version=f"motifbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in PART_CLIS:
        importlib.import_module(module_name).register(sub)
    return parser


#: Exit status after the reader of our output went away (``motifbench queue | head -3``): 128 + SIGPIPE,
#: what a Unix tool killed by SIGPIPE reports.
EXIT_BROKEN_PIPE = 141


def _subparser_for(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.ArgumentParser:
    """The deepest (sub)command parser named in ``argv`` (``data build ...`` -> the ``build`` parser)."""
    current = parser
    for token in argv:
        actions = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions:
            break
        chosen = actions[0].choices.get(token)
        if chosen is not None:
            current = chosen
    return current


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse like ``parse_args``, but an unknown option is reported with its subcommand's usage.

    argparse hands unrecognised arguments back to the top-level parser, whose
    usage line says nothing about ``train --activaton``; the subcommand's own
    usage (and ``error:`` line) does.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extra = parser.parse_known_args(argv)
    if extra:
        _subparser_for(parser, argv).error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _quiet_broken_pipe() -> int:
    """The reader closed the pipe: drop what is still buffered and exit without a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``motifbench`` command; returns its exit status (the Python API of the console script)."""
    return _main(argv)[0]


def run() -> None:
    """The console script and ``python -m motifbench``: :func:`main`, then end the process.

    A command that sets ``fast_exit`` (``evaluate``) ends with :func:`os._exit` once its output
    is flushed: everything it writes is written and closed before it returns, and Python's own
    teardown of the libraries it loaded (torch, numba, ONNX Runtime: thousands of modules)
    took 1-3 s of a fresh ``motifbench evaluate`` here, for nothing a user keeps. Every other
    command, and any command that raises, exits the ordinary way.
    """
    code, fast = _main(None)
    if fast:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


def _main(argv: Sequence[str] | None) -> tuple[int, bool]:
    """``(exit status, whether the process may end without Python's teardown)`` of one command."""
    parser = build_parser()
    args = _parse(parser, argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2, False
    try:
        with ExitStack() as stack:
            convert_model_argument(args, stack)  # checkpoints reach the parts as ONNX files
            code = int(args.func(args) or 0)
            sys.stdout.flush()  # a closed pipe shows up here for output still buffered
        return code, bool(getattr(args, "fast_exit", False))
    except BrokenPipeError:
        return _quiet_broken_pipe(), False
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130, False
    except Exception as exc:  # every part raises MotifbenchError subclasses for user mistakes
        from benchmark.errors import MotifbenchError

        if isinstance(exc, MotifbenchError) and not args.verbose:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code, False
        raise


if __name__ == "__main__":
    run()
