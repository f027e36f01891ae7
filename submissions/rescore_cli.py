"""``motifbench rescore`` and ``motifbench round show|rotate`` (Python API: :mod:`submissions.rescore`)."""
from __future__ import annotations

import argparse
import json


def _cmd_rescore(args: argparse.Namespace) -> int:
    from submissions.rescore import rescore
    from submissions.sqlite_store import open_store

    with open_store() as store:
        queued = rescore(store, args.ids, all=args.all, stale=args.stale, data=args.data)
    print(f"queued {len(queued)} submission(s) for re-scoring" + (f": {', '.join(queued)}" if queued else
                                                                  " (every row is scored for its current key)"))
    return 0


def _round_dict(r) -> dict:
    out = r.as_dict()
    if r.seed is None:
        out.pop("seed")
    return out


def _cmd_round(args: argparse.Namespace) -> int:
    from benchmark.rounds import read_ledger, verify_round

    if args.action == "rotate":
        from submissions.rescore import rotate_round
        from submissions.sqlite_store import open_store

        with open_store() as store:
            done = rotate_round(store, data=args.data)
        print(f"round {done.ended_id} ended; its seed is now public: {done.ended_seed}")
        print(f"  verify: sha256(seed) = {done.ended_commitment}; reproduce a score with "
              f"`motifbench evaluate MODEL --hidden-seed {done.ended_seed} --out r.json`")
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
                    "and queues every finished submission for re-scoring. See docs/rounds.md.")
    r.add_argument("action", choices=("show", "rotate"))
    r.add_argument("--json", action="store_true", help="show: JSON")
    r.add_argument("--data", help="rotate: dataset folder or Hub id that defines the current dataset version")
    r.set_defaults(func=_cmd_round)
