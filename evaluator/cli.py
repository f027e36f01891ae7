"""Commands of the evaluator part: ``motifbench evaluate`` (and ``motifbench tomtom``, from tomtom_cli)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluator import tomtom_cli
from evaluator.params import OUTPUT_KINDS, EvalParams
from evaluator.params_cli import add_eval_params_arguments, add_interval_arguments, eval_params_overrides, interval_settings


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
    p.add_argument("--out", type=Path, default=None,
                   help="result record path; artifacts go beside it (default: results/<model name>.json)")
    p.add_argument("--name", default=None,
                   help="model name for the record (default: the file's stem, or its folder's name when the file is "
                        "called model.onnx or similar)")
    p.add_argument("--tap", default=None, help="name of the first-layer activation tensor (default: found automatically)")
    p.add_argument("--output-kind", choices=OUTPUT_KINDS, default=None,
                   help="what the model outputs (default: probabilities if the graph ends in a sigmoid, else logits)")
    p.add_argument("--logits-output", default=None, metavar="NAME",
                   help="a [batch, 12] logits tensor for in silico mutagenesis only (default: the one named by the "
                        "ONNX metadata key motifbench.logits_output, else the prediction output)")
    add_eval_params_arguments(p)
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: all available CPUs)")
    p.add_argument("--logo-engine", choices=("fast", "logomaker"), default="fast",
                   help="logo renderer: same picture, logomaker is ~10x slower (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_interval_arguments(p)
    p.add_argument("--hidden-seed", default=None, metavar="SEED",
                   help="score on the hidden test of an ended round, regenerated from its published seed "
                        "(64 hex digits, `motifbench round show`); reproduces that round's scores exactly")
    p.add_argument("--round", dest="round_id", default=None, metavar="ID",
                   help="round id to record with --hidden-seed (default: looked up in the local ledger)")
    p.set_defaults(func=_run_evaluate, fast_exit=True)  # no interpreter teardown after the record (motifbench.cli.run)

    tomtom_cli.register(subparsers)


def _run_evaluate(args: argparse.Namespace) -> int:
    from benchmark.errors import MotifbenchError
    from evaluator import evaluate

    params = EvalParams.from_dict(eval_params_overrides(args))
    from evaluator.naming import default_model_name, default_record_path

    source = getattr(args, "model_source", None)  # a run folder, already exported to ONNX
    name = args.name or (source.name if source is not None else default_model_name(args.model))
    out: Path = args.out if args.out is not None else default_record_path(name)
    if out.suffix != ".json":
        out = out / "result.json" if out.is_dir() else out.with_suffix(".json")
    common = dict(out_dir=out.parent, params=params, tap=args.tap, output_kind=args.output_kind,
                  progress=not args.quiet and sys.stderr.isatty(), record_name=out.name, model_name=name,
                  logo_engine=args.logo_engine, threads=args.threads, logits_output=args.logits_output,
                  source=getattr(args, "model_source", None), intervals=interval_settings(args))
    if args.hidden_seed is not None:
        from benchmark.rounds import parse_seed
        from evaluator.hidden import evaluate_hidden

        if args.config != "synthetic" or args.split != "test":
            raise MotifbenchError("--hidden-seed scores the synthetic hidden test; leave --config and --split out")
        result = evaluate_hidden(args.model, parse_seed(args.hidden_seed), data=args.data, round_id=args.round_id,
                                 **common)
    else:
        result = evaluate(args.model, data=args.data, config=args.config, split=args.split, revision=args.revision,
                          **common)
    print(result.summary())
    print(f"record: {out}")
    return 0
