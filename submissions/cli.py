"""`motifbench submit`, `motifbench queue`, `motifbench worker`: the submissions service from a shell."""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

GIB = 1024**3


def _limits(args: argparse.Namespace):
    from submissions.validate import ValidationLimits

    defaults = ValidationLimits()
    return ValidationLimits(
        max_bytes=int(args.max_mb * 1024 * 1024) if args.max_mb else defaults.max_bytes,
        trial_seconds=args.trial_seconds or defaults.trial_seconds,
        trial_memory_bytes=int(args.trial_memory_gb * GIB) if args.trial_memory_gb else defaults.trial_memory_bytes,
    )


def _cmd_submit(args: argparse.Namespace) -> int:
    from submissions.errors import SubmissionRejected
    from submissions.intake import submit, submit_baseline

    try:
        if args.baseline:
            source = getattr(args, "model_source", None)  # set by the umbrella CLI when MODEL was a run folder
            if source is None or source.spec is None:
                print("error: --baseline needs a baselines run folder (spec.json + model.safetensors)", file=sys.stderr)
                return 2
            sub = submit_baseline(args.model, source.spec, args.manifest, data=args.data, limits=_limits(args))
        else:
            if not args.manifest:
                print("error: --manifest is required for an ONNX submission (see docs/submissions.md)", file=sys.stderr)
                return 2
            sub = submit(Path(args.model), Path(args.manifest), data=args.data, limits=_limits(args))
    except SubmissionRejected as exc:
        if args.json:
            print(json.dumps({"rejected": True, "code": exc.code, "message": exc.detail, "existing_id": exc.existing_id}))
        else:
            print(f"rejected [{exc.code}]: {exc.detail}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps({"rejected": False, **sub.summary()}))
    else:
        print(sub.id)
    return 0


def _cmd_queue(args: argparse.Namespace) -> int:
    from submissions.export import export_all
    from submissions.sqlite_store import open_store
    from submissions.store import submissions_home
    from submissions.store_health import backup, integrity_report

    if args.check:  # works on a damaged file too: it never opens it for writing
        path = submissions_home() / "queue.sqlite"
        problems = integrity_report(path)
        if problems:
            print(f"{path}: DAMAGED", file=sys.stderr)
            for line in problems[:20]:
                print(f"  {line}", file=sys.stderr)
            print("recovery: restore the newest backup from "
                  f"{path.parent / 'backups'} over it (or move it aside), then `motifbench queue --export`",
                  file=sys.stderr)
            return 3
        print(f"{path}: ok (integrity_check passed)")
        return 0
    if args.backup:
        dest = backup(submissions_home() / "queue.sqlite", Path(args.backup))
        print(f"backed up the queue database to {dest}")
        return 0
    with open_store() as store:
        if args.export:
            path = export_all(store)
            print(f"rewrote result JSONs and {path}")
            return 0
        if args.id:
            sub = store.get(args.id)
            if sub is None:
                print(f"error: no submission {args.id!r}", file=sys.stderr)
                return 2
            out: dict[str, Any] = {**sub.summary(), "manifest": sub.manifest, "trial": sub.trial}
            if args.record:
                out["record"] = sub.record
            print(json.dumps(out, indent=2))
            return 0
        subs = store.list([s.upper() for s in args.state] if args.state else None, limit=args.limit)
        if args.json:
            print(json.dumps([s.summary() for s in subs], indent=2))
            return 0
        print(_table(subs))
        counts = store.counts()
        print("  ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _table(subs) -> str:
    from submissions.store import iso

    header = ("ID", "STATE", "MODEL", "SUBMITTER", "DATASET", "TRIES", "CREATED", "REASON")
    rows = [
        (
            s.id, s.state, s.model_name[:28], s.submitter[:20], f"{s.dataset_config} {s.dataset_version}",
            str(s.attempts), (iso(s.created_at) or "")[:19].replace("T", " "), (s.reason or "")[:60],
        )
        for s in subs
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows])


#: What the service worker runs beyond the evaluator's fast defaults (issue 11: the slow attribution
#: methods and motif discovery always run here); ``--fast-attribution`` drops them. 10 DeepLIFT/SHAP
#: shuffles and 3 TF-MoDISco Leiden runs instead of the evaluator's 20 and 10: the same scores on the
#: shipped baselines at about half the stage's cost (docs/evaluator.md, "What the service worker's
#: settings cost"; ``perf/attribution_service_cost.py``).
SERVICE_EVAL_PARAMS: dict[str, Any] = {"slow_attribution": True, "discovery": True, "shap_shuffles": 10,
                                       "modisco_leiden_runs": 3}


def _eval_params(args: argparse.Namespace) -> dict[str, Any]:
    """EvalParams overrides for every job: the service defaults, the ``--params`` file, then the flags given."""
    from evaluator.params import EvalParams
    from evaluator.params_cli import eval_params_overrides

    params: dict[str, Any] = {} if getattr(args, "fast_attribution", False) else dict(SERVICE_EVAL_PARAMS)
    params.update(json.loads(Path(args.params).read_text()) if args.params else {})
    params.update(eval_params_overrides(args))
    if params:
        EvalParams.from_dict(params)  # fail now, not in every job
    return params


def _intervals(args: argparse.Namespace) -> dict[str, Any] | None:
    from evaluator.params_cli import interval_settings

    settings = interval_settings(args)
    return None if settings is None else {k: v for k, v in settings.as_dict().items() if k != "method"}


def _cmd_worker(args: argparse.Namespace) -> int:
    from submissions.parent_link import die_with_parent
    from submissions.sandbox import guard_process_secrets
    from submissions.sqlite_store import open_store
    from submissions.worker import Worker, WorkerConfig

    config = WorkerConfig(
        data=args.data,
        split=args.split,
        eval_params=_eval_params(args),
        time_limit=args.time_limit,
        memory_limit=int(args.memory_gb * GIB) if args.memory_gb else None,
        heartbeat_seconds=args.heartbeat,
        stale_after=args.stale_after,
        max_attempts=args.max_attempts,
        poll_seconds=args.poll,
        threads=args.threads,
        launcher="spawn" if args.no_warm else "forkserver",
        artifacts=not args.no_artifacts,
        hidden=not args.no_hidden,
        intervals=_intervals(args),
        rescore_when_idle=not args.no_rescore,
        min_free_bytes=int(args.min_free_mb * 1024 * 1024),
    )

    guard_process_secrets()  # a secret from the environment stays out of reach of the sandboxed children
    with open_store() as store:
        worker = Worker(store, config)
        stop = []

        def _terminate(signum, frame):
            # SIGTERM: a running evaluation is killed and its job handed back at once;
            # bookkeeping (recording, exporting) is never cut short, the loop just ends after it.
            stop.append(signum)
            if worker.interruptible:
                raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _terminate)
        die_with_parent(signal.SIGTERM)  # started by `serve`: stop when it dies, even by SIGKILL
        try:
            results = worker.run(once=args.once, max_jobs=args.max_jobs, should_stop=lambda: bool(stop))
        except KeyboardInterrupt:
            print(f"worker {worker.worker_id} stopped; its running job is PENDING again", file=sys.stderr)
            return 130
    for r in results:
        print(f"{r.id}  {r.state}  {r.seconds:.1f}s" + (f"  {r.reason}" if r.reason else ""))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps([r.__dict__ for r in results], indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``submit``, ``queue`` and ``worker`` to the umbrella CLI."""
    from evaluator.params_cli import add_eval_params_arguments

    p = subparsers.add_parser("submit", help="validate a model and queue it for evaluation",
                              description="Validate MODEL.onnx + manifest and queue it; prints the submission id. "
                              "Exits 4 with the reason when the submission is rejected.")
    p.add_argument("model", help="the .onnx file (or, with --baseline, a baselines run folder)")
    p.add_argument("--manifest", help="manifest JSON/YAML (optional with --baseline: derived from spec.json)")
    p.add_argument("--data", help="dataset folder or Hub id scored against (default: the data home's)")
    p.add_argument("--baseline", action="store_true", help="MODEL is a baselines run folder (safetensors + spec.json)")
    p.add_argument("--max-mb", type=float, help="size cap in MiB (default 50)")
    p.add_argument("--trial-seconds", type=float, help="wall-time limit of the trial run (default 60)")
    p.add_argument("--trial-memory-gb", type=float, help="address-space limit of the trial run (default 3)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_submit)

    q = subparsers.add_parser("queue", help="list submissions and their states",
                              description="Table of submissions (oldest first) and counts per state.")
    q.add_argument("--state", action="append", choices=["PENDING", "RUNNING", "FINISHED", "FAILED"],
                   type=str.upper, help="only these states (repeatable)")
    q.add_argument("--limit", type=int, help="at most this many rows")
    q.add_argument("--json", action="store_true", help="JSON rows instead of a table")
    q.add_argument("--id", help="show one submission in full (JSON)")
    q.add_argument("--record", action="store_true", help="with --id: include the result record")
    q.add_argument("--export", action="store_true",
                   help="rewrite results/*.json and leaderboard.parquet from the records the store keeps")
    q.add_argument("--check", action="store_true",
                   help="run SQLite's integrity_check on queue.sqlite; exit 3 and say how to recover if damaged")
    q.add_argument("--backup", metavar="FILE",
                   help="copy the live queue database to FILE with SQLite's online backup API")
    q.set_defaults(func=_cmd_queue)

    w = subparsers.add_parser("worker", help="evaluate queued submissions",
                              description="Claim PENDING jobs one at a time and evaluate each in a child process "
                              "with time and memory limits. Runs until stopped (SIGTERM/Ctrl-C hand the running "
                              "job back) unless --once or --max-jobs.")
    w.add_argument("--once", action="store_true", help="exit when no PENDING job is left instead of polling")
    w.add_argument("--max-jobs", type=int, help="exit after this many jobs")
    w.add_argument("--poll", type=float, default=5.0, help="seconds between looks at an empty queue (default 5)")
    w.add_argument("--data", help="dataset folder or Hub id (default: the one given at submit, else the data home's)")
    w.add_argument("--split", default="test", help="split to score (default test)")
    w.add_argument("--time-limit", type=float, default=1800.0, help="wall seconds per evaluation (default 1800)")
    w.add_argument("--memory-gb", type=float, default=6.0, help="address-space GiB per evaluation, 0 = none (default 6)")
    w.add_argument("--heartbeat", type=float, default=5.0, help="heartbeat interval in seconds (default 5)")
    w.add_argument("--stale-after", type=float, default=60.0,
                   help="requeue RUNNING jobs silent this long: their worker died (default 60)")
    w.add_argument("--max-attempts", type=int, default=3, help="claims per job before it is FAILED (default 3)")
    w.add_argument("--params", help="JSON file of evaluator.params.EvalParams overrides (flags below win)")
    w.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads per evaluation (default 1)")
    w.add_argument("--no-artifacts", action="store_true", help="do not write filter logos / Tomtom tables per job")
    w.add_argument("--no-warm", action="store_true",
                   help="start a fresh interpreter per job instead of forking a warm one (slower, simpler)")
    w.add_argument("--min-free-mb", type=float, default=64.0,
                   help="claim no job while the data home has less free space; a job that fails then is retried "
                        "later, not failed (default 64)")
    w.add_argument("--json-out", help="write what this worker did (ids, states) to this JSON file")
    w.add_argument("--fast-attribution", action="store_true",
                   help="only the evaluator's fast attribution defaults (by default the worker also runs "
                        "DeepLIFT/SHAP, class-specific ISM and TF-MoDISco discovery)")
    add_eval_params_arguments(w)
    w.add_argument("--no-hidden", action="store_true",
                   help="score on the public test only (default: synthetic submissions on the current hidden round)")
    w.add_argument("--no-rescore", action="store_true",
                   help="do not re-score stale rows (older evaluator major, dataset version or round) when idle")
    from evaluator.params_cli import add_interval_arguments

    add_interval_arguments(w)
    w.set_defaults(func=_cmd_worker)

    from submissions import rescore_cli

    rescore_cli.register(subparsers)


def main(argv: list[str] | None = None) -> int:
    """``python -m submissions.cli COMMAND``: the three commands without the umbrella's imports (fast start)."""
    import logging

    parser = argparse.ArgumentParser(prog="python -m submissions.cli")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from benchmark.errors import MotifbenchError

    try:
        return int(args.func(args) or 0)
    except MotifbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
