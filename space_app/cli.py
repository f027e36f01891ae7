"""``motifbench serve``: the leaderboard app and an evaluation worker against the data home."""
from __future__ import annotations

import argparse
import shlex


def _cmd_serve(args: argparse.Namespace) -> int:
    from space_app.app import demo, launch_kwargs
    from space_app.service import serve

    serve(demo, launch_kwargs(), host=args.host, port=args.port, worker=not args.no_worker, worker_args=shlex.split(args.worker_args or ""),
          build_dataset=not args.no_build, baselines=not args.no_baselines, baseline_folder=args.baselines_from)
    return 0


def _cmd_bundle(args: argparse.Namespace) -> int:
    from space_app.bundle import bundle

    out = bundle(args.out, dataset_repo=args.dataset_repo)
    print(f"Space written to {out}: push it to a Hugging Face Space repository (sdk: gradio)")
    return 0


class _RefuseShare(argparse.Action):
    """``--share`` is refused by name: a public Gradio tunnel would expose the queue to the internet."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error("--share is not allowed: the app only serves on --host/--port (deploy a Space to publish it)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``serve`` to the umbrella CLI."""
    p = subparsers.add_parser(
        "serve", help="run the leaderboard app (and an evaluation worker)",
        description="Start the Gradio leaderboard against the data home and a `motifbench worker` child that "
        "evaluates queued submissions. On first start with no dataset, builds the synthetic dataset "
        "(koo2019 preset) into the data home. Analytics are off; the page loads nothing from other hosts.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1; 0.0.0.0 = all)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--no-worker", action="store_true", help="do not start a worker (run `motifbench worker` elsewhere)")
    p.add_argument("--no-build", action="store_true", help="do not build the synthetic dataset when it is missing")
    p.add_argument("--no-baselines", action="store_true",
                   help="do not queue the bundled baseline models (queued by default; duplicates are skipped)")
    p.add_argument("--baselines-from", metavar="FOLDER",
                   help="queue the baseline runs of FOLDER (RUN/model.onnx + RUN/spec.json each) instead of the "
                        "bundled ones, e.g. a subset or your own `motifbench sweep` runs")
    p.add_argument("--worker-args", default="",
                   help="extra `motifbench worker` options, quoted, e.g. \"--limit 400 --no-attribution\"")
    p.add_argument("--share", nargs=0, action=_RefuseShare, help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_serve)

    b = subparsers.add_parser(
        "space-bundle", help="write a ready-to-push Hugging Face Space folder",
        description="Copy space_app's app.py, README.md (Space YAML) and requirements.txt, plus the motifbench "
        "packages the service imports (no baselines, so no torch), into OUT.",
    )
    b.add_argument("out", help="new or empty destination folder")
    b.add_argument("--dataset-repo", help="Hub dataset id for the README's datasets: tag (ORG/motifbench)")
    b.set_defaults(func=_cmd_bundle)
