"""The `motifbench` console script.

Each part keeps its own commands beside its code (a `cli.py` exposing
`register(subparsers)`); this module only assembles them so that the parts
never need to import one another's CLIs.
"""
from __future__ import annotations

import argparse
import importlib
import logging
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with ExitStack() as stack:
            convert_model_argument(args, stack)  # checkpoints reach the parts as ONNX files
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every part raises MotifbenchError subclasses for user mistakes
        from benchmark.errors import MotifbenchError

        if isinstance(exc, MotifbenchError) and not args.verbose:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        raise


if __name__ == "__main__":
    sys.exit(main())
