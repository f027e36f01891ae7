"""``motifbench rescore`` and ``motifbench round show|rotate|reveal|verify``.

Python API: :mod:`submissions.rescore`, :func:`benchmark.rounds.reveal`, :func:`evaluator.hidden.verify_record`.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def _cmd_rescore(args: argparse.Namespace) -> int:
    from submissions.rescore import rescore
    from submissions.sqlite_store import open_store

    with open_store() as store:
        queued = rescore(store, args.ids, all=args.all, stale=args.stale, data=args.data)
    tail = f": {', '.join(queued)}" if queued else " (every row is scored, or already queued, for its current key)"
    print(f"queued {len(queued)} submission(s) for re-scoring{tail}")
    return 0


def _round_dict(r) -> dict:
    out = r.as_dict()
    if r.seed is None:
        out.pop("seed")
    return out


def _cmd_round_verify(args: argparse.Namespace) -> int:
    """``round verify MODEL RECORD``: re-score with the record's settings, compare every value."""
    from benchmark.errors import MotifbenchError
    from benchmark.rounds import find_round, parse_seed
    from evaluator.hidden import record_leaves, verify_record

    if len(args.operands) != 2:
        raise MotifbenchError("`round verify` takes MODEL RECORD: the model's .onnx file and its record (JSON) "
                              "of an ended round (the Model detail tab's 'Earlier records', or results/history/)")
    model, record_file = args.operands
    try:
        record = json.loads(Path(record_file).read_text())
    except (OSError, ValueError) as exc:
        raise MotifbenchError(f"cannot read the record {record_file}: {exc}") from None
    round_info = record.get("round") if isinstance(record, dict) else None
    if not isinstance(round_info, dict) or not round_info.get("commitment"):
        raise MotifbenchError(f"{record_file} is not a hidden-round record (it has no round commitment)")
    if args.seed:
        seed = parse_seed(args.seed)
    else:
        known = find_round(str(round_info["commitment"]))
        if known is None or known.seed is None:
            raise MotifbenchError(f"no published seed for round {round_info.get('id') or '?'} in the local ledger: "
                                  "pass --seed SEED (the About page lists the seeds of ended rounds)")
        seed = parse_seed(known.seed)
    again, differences = verify_record(model, record, seed, threads=args.threads, progress=False)
    if args.out:
        Path(args.out).write_text(json.dumps(again, indent=2, sort_keys=True, default=str) + "\n")
    if differences:
        print(f"round {round_info.get('id')}: {len(differences)} value(s) of the record were NOT reproduced:")
        written, running = record.get("evaluator_version"), again.get("evaluator_version")
        if written != running:
            print(f"  (the record was written by evaluator {written} and this is {running}: verify with the version "
                  "that wrote it; docs/evaluator.md, Versions, says which numbers each version changed)")
        for path, want, got in differences[:20]:
            print(f"  {path}: record {want!r}, reproduced {got!r}")
        return 1
    print(f"round {round_info.get('id')}: every value of the record reproduced exactly "
          f"({len(record_leaves(record))} values; timings, dates and file names left out)")
    return 0


def _cmd_round(args: argparse.Namespace) -> int:
    from benchmark.rounds import read_ledger, verify_round

    if args.action == "verify":
        return _cmd_round_verify(args)
    if args.action == "reveal":
        from benchmark.errors import MotifbenchError
        from benchmark.rounds import parse_seed, reveal

        if len(args.operands) != 1:
            raise MotifbenchError("`round reveal` takes one SEED: the 64 hex digits of an ended round's seed")
        done = reveal(parse_seed(args.operands[0]))
        print(f"round {done.id}: seed published (sha256 matches its commitment {done.commitment})")
        return 0
    if args.operands:
        raise SystemExit(f"motifbench round {args.action}: unexpected arguments {' '.join(args.operands)}")
    if args.action == "rotate":
        from submissions.rescore import rotate_round
        from submissions.sqlite_store import open_store

        with open_store() as store:
            done = rotate_round(store, data=args.data)
        print(f"round {done.ended_id} ended; its seed is now public: {done.ended_seed}")
        print(f"  verify: sha256(seed) = {done.ended_commitment}; reproduce a score with "
              f"`motifbench round verify MODEL RECORD.json` (or `motifbench evaluate MODEL --hidden-seed "
              f"{done.ended_seed}` with the record's settings)")
        print(f"round {done.started_id} started, commitment {done.started_commitment}")
        print(f"queued {len(done.requeued)} submission(s) for re-scoring on {done.started_id}")
        return 0
    rounds = read_ledger()
    if args.json:
        print(json.dumps([_round_dict(r) for r in rounds], indent=2))
        return 0
    if not rounds:
        print("no round yet: the first `motifbench serve` or `motifbench worker` opens round r1")
        return 0
    for r in rounds:
        state = "current" if r.current else f"ended {r.ended}"
        print(f"{r.id}  {state}  started {r.started}\n    commitment {r.commitment}")
        if r.seed:
            print(f"    seed       {r.seed}  ({'verified' if verify_round(r) else 'DOES NOT MATCH'})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``rescore`` and ``round``."""
    p = subparsers.add_parser(
        "rescore", help="re-evaluate finished submissions (new evaluator major, dataset version or round)",
        description="Queue submissions for re-scoring from their stored ONNX. The old record is kept and still "
                    "shown in its own version view; a row already scored for the current (model, dataset "
                    "version, evaluator major, round) is not queued again. A running worker picks them up after "
                    "new submissions, newest first.")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", default=[], help="submission ids")
    which.add_argument("--all", action="store_true", help="every finished or failed submission")
    which.add_argument("--stale", action="store_true",
                       help="every finished submission without a score for the current evaluator major, dataset "
                            "version and round")
    p.add_argument("--data", help="dataset folder or Hub id that defines the current dataset version")
    p.set_defaults(func=_cmd_rescore)

    r = subparsers.add_parser(
        "round", help="hidden-test rounds: show the ledger, or end the round (publishing its seed)",
        description="`round show` lists every round with its commitment (sha256 of its seed) and, once ended, "
                    "its seed. `round rotate` ends the current round, publishes its seed, draws a new secret "
                    "and queues every finished submission for re-scoring. `round reveal SEED` publishes the seed "
                    "of a round that ended unrevealed (a Space that changed $MOTIFBENCH_ROUND_SECRET). `round "
                    "verify MODEL RECORD` re-scores MODEL on the hidden test of the record's (ended) round with the "
                    "record's own settings and compares every value; exit 1 when any differs. See docs/rounds.md.")
    r.add_argument("action", choices=("show", "rotate", "verify", "reveal"))
    r.add_argument("operands", nargs="*", metavar="ARG",
                   help="verify: MODEL RECORD (the model's .onnx and its record); reveal: SEED (of an ended round)")
    r.add_argument("--seed", help="verify: the round's published seed (default: from the local ledger)")
    r.add_argument("--threads", type=int, default=1, help="verify: ONNX Runtime threads (default 1)")
    r.add_argument("--out", help="verify: write the reproduced record here")
    r.add_argument("--json", action="store_true", help="show: JSON")
    r.add_argument("--data", help="rotate: dataset folder or Hub id that defines the current dataset version")
    r.set_defaults(func=_cmd_round)
