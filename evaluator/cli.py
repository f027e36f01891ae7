"""Commands of the evaluator part: ``motifbench evaluate`` (and ``motifbench tomtom``, from tomtom_cli)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluator import tomtom_cli
from evaluator.params import DISTANCES, OUTPUT_KINDS, PPM_METHODS, EvalParams


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` and ``tomtom`` (from :mod:`evaluator.tomtom_cli`)."""
    defaults = EvalParams()
    p = subparsers.add_parser(
        "evaluate",
        help="score one model: classification, first-layer motif recovery (Tomtom vs JASPAR), attribution",
        description=(
            "Evaluate an ONNX model (input [batch, 4, L] A,C,G,T; output [batch, 12] probabilities or logits) "
            "or a baseline run folder on a dataset split. Writes the result record (JSON) and logo PNGs beside it, "
            "and prints a summary. Defaults are the papers' settings."
        ),
    )
    p.add_argument("model", type=Path, help=".onnx file, or a baseline run folder (spec.json + *.safetensors)")
    p.add_argument("--data", default=None,
                   help="dataset repo folder or Hub id (ORG/NAME); default: the data home's dataset")
    p.add_argument("--config", default="synthetic", help="dataset config (default: %(default)s)")
    p.add_argument("--split", default="test", help="dataset split (default: %(default)s)")
    p.add_argument("--revision", default=None, help="Hub revision (tag vX.Y.Z or commit) when --data is a Hub id")
    p.add_argument("--out", type=Path, required=True, help="result record path (e.g. result.json); artifacts go beside it")
    p.add_argument("--name", default=None, help="model name for the record (default: file or spec name)")
    p.add_argument("--tap", default=None, help="name of the first-layer activation tensor (default: found automatically)")
    p.add_argument("--output-kind", choices=OUTPUT_KINDS, default=None,
                   help="what the model outputs (default: probabilities if the graph ends in a sigmoid, else logits)")
    p.add_argument("--logits-output", default=None, metavar="NAME",
                   help="a [batch, 12] logits tensor for in silico mutagenesis only (default: the one named by the "
                        "ONNX metadata key motifbench.logits_output, else the prediction output)")
    p.add_argument("--ppm-method", choices=PPM_METHODS, default=defaults.ppm_method,
                   help="nmi = Koo & Ploenzke 2021 (20-nt unweighted windows), ke = Koo & Eddy 2019 "
                        "(filter-width windows weighted by activation) (default: %(default)s)")
    p.add_argument("--ke-window", type=_ke_window, default=defaults.ke_window,
                   help="KE window width, or 'kernel' for the first conv's kernel width (default: %(default)s, "
                        "what Koo & Eddy used for every model)")
    p.add_argument("--dist", choices=DISTANCES, default=defaults.tomtom_dist,
                   help="Tomtom column distance (default: %(default)s, MEME's default and the papers')")
    p.add_argument("--thresh", type=float, default=defaults.tomtom_thresh, help="Tomtom E-value threshold (default: %(default)s)")
    p.add_argument("--jaspar", type=int, default=defaults.jaspar_release,
                   help="JASPAR CORE vertebrates release used as Tomtom targets (default: %(default)s)")
    p.add_argument("--ism-sequences", type=int, default=defaults.ism_sequences,
                   help="positive sequences scored by in silico mutagenesis (default: %(default)s)")
    p.add_argument("--no-attribution", action="store_true", help="skip the in silico mutagenesis stage")
    p.add_argument("--limit", type=int, default=None, help="use only the first N sequences of the split (smoke runs)")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="sequences per ONNX Runtime call (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: all available CPUs)")
    p.add_argument("--logo-engine", choices=("fast", "logomaker"), default="fast",
                   help="logo renderer: same picture, logomaker is ~10x slower (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_run_evaluate)

    tomtom_cli.register(subparsers)


def _ke_window(text: str) -> int | None:
    """``--ke-window``: a positive width, or ``kernel`` (None: the first conv's kernel width)."""
    if text.strip().lower() == "kernel":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a width (e.g. 19) or 'kernel', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"the KE window must be >= 1, got {value}")
    return value


def _run_evaluate(args: argparse.Namespace) -> int:
    from evaluator.evaluate import evaluate
    from evaluator.record import format_summary

    params = EvalParams(
        batch_size=args.batch_size,
        ppm_method=args.ppm_method,
        ke_window=args.ke_window,
        tomtom_dist=args.dist,
        tomtom_thresh=args.thresh,
        jaspar_release=args.jaspar,
        attribution=not args.no_attribution,
        ism_sequences=args.ism_sequences,
        limit=args.limit,
    )
    out: Path = args.out
    if out.suffix != ".json":
        out = out / "result.json" if out.is_dir() else out.with_suffix(".json")
    record = evaluate(
        args.model, data=args.data, config=args.config, split=args.split, out_dir=out.parent, params=params,
        tap=args.tap, output_kind=args.output_kind, progress=not args.quiet and sys.stderr.isatty(),
        revision=args.revision, record_name=out.name, model_name=args.name, logo_engine=args.logo_engine,
        threads=args.threads, logits_output=args.logits_output,
    )
    print(format_summary(record))
    print(f"record: {out}")
    return 0
