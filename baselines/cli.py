"""Baseline commands: ``zoo``, ``train``, ``sweep``, ``results`` and ``export-onnx``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from baselines.errors import BaselineError
from baselines.protocols import DEVICE_CHOICES, PROTOCOLS, get_protocol
from baselines.zoo import ACTIVATIONS, LENGTHS, get_spec, model_names


def register(subparsers: argparse._SubParsersAction) -> None:
    zoo = subparsers.add_parser("zoo", help="list the baseline CNNs with their parameter counts",
                                description="List every registered zoo model and its parameter counts.")
    zoo.add_argument("--json", action="store_true", help="print JSON instead of a table")
    zoo.add_argument("--keras-total", action="store_true",
                     help="count BN moving mean/var too, as Keras count_params() does")
    zoo.set_defaults(func=_cmd_zoo)

    train = subparsers.add_parser("train", help="train one zoo model and write a run folder",
                                  description="Train NAME and write model.safetensors, model.onnx, spec.json, "
                                  "train_log.jsonl and curves.png into a run folder.")
    train.add_argument("name", help=f"zoo model ({', '.join(model_names())})")
    train.add_argument("--activation", choices=ACTIVATIONS, default="relu", help="first-layer activation (default relu)")
    train.add_argument("--seed", type=int, default=0, help="seed for init, dropout and shuffling (default 0)")
    train.add_argument("--out", type=Path, help="run folder (default: DATA_HOME/runs/NAME/ACTIVATION/seedK)")
    train.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    _add_common(train)
    train.set_defaults(func=_cmd_train)

    sweep = subparsers.add_parser("sweep", help="train a grid of models x activations x seeds, resumably",
                                  description="Run a grid resumably (finished runs are skipped, interrupted ones "
                                  "redone) and write runs.csv, summary.csv and summary.md.")
    sweep.add_argument("--preset", metavar="{koo2019,nmi2021,paper,results}",
                       help="a named grid with its paper's protocol and trials: koo2019 = Koo & Eddy's models, "
                       "relu, 5 seeds; nmi2021 = the NMI code's CNN-k (every pool size) and CNN-deep, relu/exp, "
                       "10 seeds; paper = nmi2021; results = the results table's grid (CNN-k relu/exp x 5, "
                       "variants relu x 3, CNN-deep relu/exp x 3, koo2019). Flags override single parts")
    sweep.add_argument("--models", help="comma-separated zoo names (default: the preset's)")
    sweep.add_argument("--activations", help="comma-separated (default: the preset's, else relu,exp)")
    sweep.add_argument("--seeds", help="comma-separated ints or a range like 0-4 (default: the preset's, else 0)")
    sweep.add_argument("--out", type=Path, required=True, help="sweep folder")
    sweep.add_argument("--evaluate", action="store_true",
                       help="also score every run's model.onnx with the evaluator (motif recovery)")
    sweep.add_argument("--runner", choices=("local", "ray"), default="local",
                       help="local = sequential in this process (default); ray = one Ray task per run")
    sweep.add_argument("--ray-address", "--address", dest="ray_address",
                       help="Ray cluster address: auto = the cluster this node joined, ray://HEAD:10001 = a "
                       "remote one (default: start a local Ray)")
    sweep.add_argument("--ray-cpus", type=int,
                       help="CPUs of the local Ray started without --ray-address (default: all)")
    sweep.add_argument("--gpus-per-run", type=float, default=0.0, help="GPUs each Ray task reserves")
    sweep.add_argument("--cpus-per-run", type=float, default=1.0,
                       help="CPUs each Ray task reserves; also its torch threads unless --threads is given")
    sweep.add_argument("--retries", type=int, default=2, help="Ray: extra attempts for a failed run (default 2)")
    sweep.add_argument("--status", action="store_true",
                       help="train nothing: print, per grid row, the runs complete / running / left and the "
                       "hours done and estimated left (safe while sweeps run)")
    _add_common(sweep)
    sweep.set_defaults(func=_cmd_sweep)

    results = subparsers.add_parser("results", help="the baseline results table: score run records, build docs/results.md",
                                    description="Score run folders with both PPM methods and build the results "
                                    "page (mean ± sd and n per model and activation, the papers' values, verdicts, "
                                    "the GT-match-vs-pool figure) from every run record found.")
    actions = results.add_subparsers(dest="results_command", metavar="ACTION", required=True)
    table = actions.add_parser("table", help="build the results Markdown and figure from run records",
                               description="Build the results page from every run record under the roots.")
    table.add_argument("roots", nargs="*", type=Path,
                       help="folders holding run folders (default: space_app/baseline_models)")
    table.add_argument("--out", type=Path, default=Path("docs/results.md"), help="Markdown page (docs/results.md)")
    table.add_argument("--figure", type=Path, help="PNG (default: results_gt_vs_pool.png beside --out)")
    table.add_argument("--notes", type=Path, help="hand-written Markdown appended as the Notes section")
    table.set_defaults(func=_cmd_results_table)
    score = actions.add_parser("score", help="evaluate run folders with the NMI and KE PPM methods (cached)",
                               description="Add the evaluator records (one per PPM method) to run folders that "
                               "hold model.onnx; current records are reused.")
    score.add_argument("run_dirs", nargs="+", type=Path, help="run folders (spec.json + model.onnx)")
    score.add_argument("--data", help="dataset repo folder or Hub id (default: the data home's dataset)")
    score.add_argument("--config", default="synthetic", help="dataset config (default synthetic)")
    score.add_argument("--methods", default="nmi,ke", help="PPM methods (default nmi,ke)")
    score.add_argument("--keep-artifacts", action="store_true", help="keep logos, MEME file and Tomtom TSV")
    score.set_defaults(func=_cmd_results_score)
    bundle = actions.add_parser("bundle", help="refresh the leaderboard's baseline bundle from run records",
                                description="Replace the run folders of the bundle with every finished, scored "
                                "run under the roots: spec.json and both evaluator records per run, model.onnx "
                                "for the lowest seed of each model and activation, and a README of the families "
                                "(n, mean ± sd). The leaderboard's family rows add the records of the seeds it "
                                "does not score itself.")
    bundle.add_argument("roots", nargs="+", type=Path, help="folders holding run folders (e.g. a sweep's --out)")
    bundle.add_argument("--out", type=Path, default=Path("space_app/baseline_models"),
                        help="bundle folder (default: space_app/baseline_models)")
    bundle.add_argument("--protocol", help="keep only runs of this protocol label, e.g. 'koo2019'")
    bundle.set_defaults(func=_cmd_results_bundle)
    folder = actions.add_parser("hub-folder", help="write a Hugging Face model repo folder (card + ONNX + spec per run)",
                                description="Copy every run with model.onnx under the roots into a model repo "
                                "folder with a model card and a hashed manifest.")
    folder.add_argument("roots", nargs="+", type=Path, help="folders holding run folders")
    folder.add_argument("--out", type=Path, required=True, help="new folder to write")
    folder.add_argument("--version", required=True, help="release version X.Y.Z (publish tag vX.Y.Z)")
    folder.set_defaults(func=_cmd_results_hub_folder)
    pub = actions.add_parser("publish", help="upload a verified model repo folder to the Hub and tag it",
                             description="The dataset's publish checks (verified folder, tag vX.Y.Z = manifest "
                             "version, ORG/NAME, Hub online, token), then one upload and one tag.")
    pub.add_argument("folder", type=Path)
    pub.add_argument("--repo-id", required=True, help="ORG/NAME of the Hub model repo")
    pub.add_argument("--tag", required=True, help="vX.Y.Z, equal to the folder's manifest version")
    pub.add_argument("--token", help="Hub token (default: the logged-in one or HF_TOKEN)")
    pub.add_argument("--private", action="store_true")
    pub.set_defaults(func=_cmd_results_publish)

    export = subparsers.add_parser("export-onnx", help="turn a safetensors + spec.json checkpoint into model.onnx",
                                   description="Export a baseline checkpoint to the submission ONNX contract.")
    export.add_argument("checkpoint", type=Path, help="run folder or .safetensors file")
    export.add_argument("--spec", type=Path, help="spec.json (default: beside the weights)")
    export.add_argument("--out", type=Path, help="ONNX path (default: model.onnx beside the weights)")
    export.set_defaults(func=_cmd_export)


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", help="dataset repo folder or Hub id (default: the data home's dataset)")
    g.add_argument("--config", default="synthetic", help="dataset config: synthetic or deepsea (default synthetic)")
    g.add_argument("--revision", help="Hub revision (tag vX.Y.Z) when --data is a Hub id")
    g.add_argument("--limit", type=int, help="use only the first N rows of each split (smoke runs)")
    g = p.add_argument_group("protocol (flags override the preset)")
    g.add_argument("--protocol", choices=tuple(PROTOCOLS),
                   help="preset (default: the sweep preset's, else koo2019; koo2019 uses batch 32 for --config deepsea)")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float)
    g.add_argument("--patience", type=int)
    g.add_argument("--l2", type=float)
    g.add_argument("--monitor", choices=("val_loss", "val_aupr"))
    g = p.add_argument_group("hardware")
    g.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="default auto: cuda, then mps, then cpu")
    g.add_argument("--threads", type=int, help="CPU threads (default: CPUs available to this process)")
    g.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    g.add_argument("--cpu-amp", action="store_true",
                   help="train on CPU under bfloat16 autocast (needs AVX512-BF16 or AMX; 1.15-1.4x faster per "
                   "epoch here, numbers differ from the float32 default; recorded in spec.json)")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def _protocol(args: argparse.Namespace, default: str = "koo2019"):
    """The protocol preset (``--protocol``, else ``default``) for ``--config``, with flag overrides."""
    return get_protocol(args.protocol or default, config=args.config, epochs=args.epochs,
                        batch_size=args.batch_size, lr=args.lr, patience=args.patience, l2=args.l2,
                        monitor=args.monitor)


def _cmd_zoo(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    for name in model_names():
        spec = get_spec(name)
        row: dict[str, Any] = {"name": name, "description": spec.description}
        for length in LENGTHS:
            counts = spec.parameter_counts(length)
            row[f"params_{length}"] = counts.keras_total if args.keras_total else counts.trainable
        row["leaderboard_params_200"] = spec.parameter_counts(200).folded
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    print(f"{'model':<{width}}  {'params@200':>11}  {'params@1000':>11}  {'board@200':>11}  architecture")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['params_200']:>11,}  {r['params_1000']:>11,}  "
              f"{r['leaderboard_params_200']:>11,}  {r['description']}")
    kind = "Keras count_params (incl. BN moving stats)" if args.keras_total else "trainable parameters"
    print(f"\nparams: {kind}; board: the leaderboard's Params (batch norms folded into the layer before them, "
          "as counted from any submitted ONNX); first-layer activation relu|exp does not change the counts.")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from baselines.run import train_run
    from benchmark.paths import data_home

    spec = get_spec(args.name)
    out = args.out or data_home() / "runs" / spec.name / args.activation / f"seed{args.seed}"
    record = train_run(
        spec, activation=args.activation, seed=args.seed, protocol=_protocol(args), out_dir=out,
        data_source=args.data, config=args.config, revision=args.revision, limit=args.limit,
        device=args.device, amp=not args.no_amp, cpu_amp=args.cpu_amp, threads=args.threads,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    test = record["test"]
    print(f"{spec.name} ({args.activation}, seed {args.seed}): best epoch {record['best_epoch']}/"
          f"{record['epochs_run']}, test AUROC {test['auroc']:.4f}, auPR {test['aupr']:.4f}, "
          f"{record['wall_time_seconds']:.1f} s on {record['device']}")
    print(f"run folder: {out}")
    return 0


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _seeds(value: str | None) -> list[int]:
    seeds: list[int] = []
    for part in _split(value):
        try:
            if "-" in part:
                lo, hi = part.split("-", 1)
                span = range(int(lo), int(hi) + 1)
            else:
                span = range(int(part), int(part) + 1)
        except ValueError:
            raise BaselineError(f"--seeds expects integers or ranges like 0-4, got {part!r}") from None
        if not span:  # 3-1 would silently mean no seed, and the sweep would fall back to seed 0
            raise BaselineError(f"--seeds range {part!r} is empty: write it low-high, e.g. {hi}-{lo}")
        seeds.extend(span)
    return list(dict.fromkeys(seeds))  # a seed named twice is one run (dict: linear, a long range stays quick)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from baselines import sweep as sw
    from baselines.runners import get_runner

    preset = sw.get_preset(args.preset) if args.preset else None
    models = _split(args.models) or list(preset.models if preset else [])
    activations = _split(args.activations) or list(preset.activations if preset else ["relu", "exp"])
    seeds = _seeds(args.seeds) or list(preset.seeds if preset else [0])
    if not models:
        raise BaselineError("give --models NAME[,NAME...] or --preset")
    overridden = bool(args.models or args.activations or args.seeds)
    cells = preset.cells() if preset is not None and not overridden else [(models, activations, seeds)]
    protocol = _protocol(args, default=preset.protocol if preset else "koo2019")
    if preset is not None:
        alias = f" (alias of {preset.name})" if args.preset != preset.name else ""
        print(f"preset {args.preset}{alias}: {preset.description}")
    evaluate = args.evaluate
    threads = args.threads
    runner_options = {}
    if args.runner == "ray":
        runner_options = {"address": args.ray_address, "num_cpus": args.cpus_per_run, "num_gpus": args.gpus_per_run,
                          "cluster_cpus": args.ray_cpus, "max_retries": args.retries}
        # a worker must not use every core of a shared node: its reservation is its thread count (recorded)
        threads = threads or max(1, int(args.cpus_per_run))
    options = dict(data_source=args.data, config=args.config, revision=args.revision, limit=args.limit,
                   device=args.device, amp=not args.no_amp, cpu_amp=args.cpu_amp, threads=threads,
                   evaluate=evaluate, progress=not args.no_progress and args.runner == "local")
    tasks = sw.plan_grid(cells, args.out, protocol, **options)
    if args.status:
        from baselines.grid_status import format_status, sweep_status

        print(format_status(sweep_status(tasks)), end="")
        return 0
    runner = get_runner(args.runner, **runner_options)
    shape = " + ".join(f"{len(m)} model(s) x {len(a)} activation(s) x {len(s)} seed(s)" for m, a, s in cells)
    print(f"sweep: {shape} "
          f"= {len(tasks)} run(s) under protocol {protocol.name} (batch {protocol.batch_size}) -> {args.out}")
    finished = iter(range(1, len(tasks) + 1))
    reported: set[str] = set()

    def report(row: dict[str, Any]) -> None:
        # a cell that was busy is tried again at the end: its second row is marked "again", not counted twice
        step = "again" if row["run_dir"] in reported else f"{next(finished)}/{len(tasks)}"
        reported.add(row["run_dir"])
        if row["status"] == sw.BUSY:
            print(f"[{step}] busy {row['run_dir']}: another sweep process has it", flush=True)
            return
        print(f"[{step}] {row['status']} {row['run_dir']}: test auPR {row['test_aupr']:.4f}", flush=True)

    try:
        result = sw.sweep(tasks, args.out, runner=runner, on_row=report)
    finally:
        if hasattr(runner, "shutdown"):
            runner.shutdown()
    counts = result.counts
    busy = f", left {counts[sw.BUSY]} to other sweep processes" if counts[sw.BUSY] else ""
    print(f"trained {counts['trained']}, skipped {counts['skipped']} (already complete){busy}")
    if evaluate:
        ev = result.evaluation_counts
        print(f"evaluated {ev['evaluated']}, re-evaluated {ev['re-evaluated']} (stale cache), "
              f"reused {ev['reused']}")
    print(result.tables["markdown"].read_text(), end="")
    print(f"tables: {result.tables['summary']}, {result.tables['markdown']}, {result.tables['runs']}")
    return 0


def _cmd_results_table(args: argparse.Namespace) -> int:
    from baselines.results import build_results

    roots = args.roots or [Path("space_app/baseline_models")]
    command = " ".join(["motifbench results table", *map(str, roots),
                        *([f"--figure {args.figure}"] if args.figure else []),
                        *([f"--notes {args.notes}"] if args.notes else [])])
    built = build_results(roots, args.out, args.figure, command=command, notes=args.notes)
    print(f"{len(built.runs)} run(s) in {len(built.summary)} row(s) -> {built.markdown}, {built.figure}")
    return 0


def _cmd_results_score(args: argparse.Namespace) -> int:
    from baselines.results import score_runs

    for status in score_runs(args.run_dirs, data=args.data, config=args.config, methods=_split(args.methods),
                             keep_artifacts=args.keep_artifacts):
        run_dir = status.pop("run_dir")
        print(f"{run_dir}: " + ", ".join(f"{method} {how}" for method, how in status.items()), flush=True)
    return 0


def _cmd_results_bundle(args: argparse.Namespace) -> int:
    from baselines.bundle import write_baseline_bundle

    command = " ".join(["motifbench results bundle", *map(str, args.roots), f"--out {args.out}",
                        *([f"--protocol '{args.protocol}'"] if args.protocol else [])])
    built = write_baseline_bundle(args.roots, args.out, protocol=args.protocol, command=command)
    print(f"{len(built.runs)} run(s) in {len(built.summary)} family(ies) -> {built.folder} "
          f"(model.onnx for {len(built.onnx_runs)}: {', '.join(built.onnx_runs)})")
    return 0


def _cmd_results_hub_folder(args: argparse.Namespace) -> int:
    from baselines.hub import write_model_repo

    out = write_model_repo(args.roots, args.out, args.version)
    print(f"wrote {out} (publish with: motifbench results publish {out} --repo-id ORG/NAME --tag v{args.version})")
    return 0


def _cmd_results_publish(args: argparse.Namespace) -> int:
    from baselines.hub import publish_model_repo

    url = publish_model_repo(args.folder, args.repo_id, args.tag, token=args.token, private=args.private)
    print(f"published {args.folder} to {args.repo_id} as {args.tag}: {url}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from baselines.export import export_checkpoint

    path = export_checkpoint(args.checkpoint, args.spec, args.out)
    print(f"wrote {path}")
    return 0
