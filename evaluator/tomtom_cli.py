"""``motifbench tomtom``: MEME's ``tomtom`` without a MEME install, writing MEME's ``tomtom.tsv``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmark.errors import MotifbenchError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tomtom`` command."""
    p = subparsers.add_parser(
        "tomtom",
        help="compare motifs with a motif database exactly as MEME 5.5.8 tomtom does",
        description=(
            "Compare QUERIES.meme with TARGETS.meme (or JASPAR CORE vertebrates) and write MEME's "
            "tomtom.tsv: same columns, same numbers, same order. Defaults are MEME's: -dist ed, "
            "-min-overlap 1, -motif-pseudo 0.1, q-value threshold 0.5; the papers used --evalue --thresh 0.1."
        ),
    )
    p.add_argument("queries", type=Path, help="query motifs, MEME minimal format")
    p.add_argument("targets", type=Path, nargs="?", help="target motifs, MEME minimal format")
    p.add_argument("--jaspar", type=int, metavar="RELEASE",
                   help="use JASPAR CORE vertebrates of this release (e.g. 2016) as targets")
    p.add_argument("--dist", choices=("ed", "pearson"), default="ed", help="column distance (default: ed)")
    p.add_argument("--evalue", action="store_true", help="threshold on E-value instead of q-value")
    p.add_argument("--thresh", type=float, default=None,
                   help="significance threshold on q-values, or E-values with --evalue (default: 0.5, as MEME)")
    p.add_argument("--min-overlap", type=int, default=1, help="minimum query-target overlap (default: 1)")
    p.add_argument("--motif-pseudo", type=float, default=0.1, help="pseudocount on queries and targets (default: 0.1)")
    p.add_argument("--internal", action="store_true", help="only alignments with one motif inside the other")
    p.add_argument("--all", action="store_true", help="report every query-target pair (like -text -thresh 1e9)")
    p.add_argument("-o", "--out", type=Path, help="output tomtom.tsv path (default: stdout)")
    p.set_defaults(func=run)


def _command_line(args: argparse.Namespace, thresh: float | None) -> str:
    parts = ["motifbench tomtom", f"--dist {args.dist}"]
    if args.evalue:
        parts.append("--evalue")
    parts.append("--all" if thresh is None else f"--thresh {thresh:g}")
    if args.min_overlap != 1:
        parts.append(f"--min-overlap {args.min_overlap}")
    if args.motif_pseudo != 0.1:
        parts.append(f"--motif-pseudo {args.motif_pseudo:g}")
    if args.internal:
        parts.append("--internal")
    parts.append(str(args.queries))
    parts.append(f"--jaspar {args.jaspar}" if args.jaspar is not None else str(args.targets))
    if args.out:
        parts.append(f"-o {args.out}")
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    """Run ``motifbench tomtom``; returns the exit code."""
    from evaluator.meme_io import read_meme, read_meme_background
    from evaluator.tomtom import format_tsv, jaspar_targets, tomtom
    from benchmark.versions import motifbench_version

    if (args.targets is None) == (args.jaspar is None):
        raise MotifbenchError("give exactly one target database: TARGETS.meme or --jaspar RELEASE")
    if args.all and args.thresh is not None:
        raise MotifbenchError("--all reports every pair; do not combine it with --thresh")
    # MEME's default threshold is 0.5 whether it applies to q-values or (with -evalue) E-values
    thresh = None if args.all else (args.thresh if args.thresh is not None else 0.5)
    if not args.evalue and thresh is not None and thresh > 1:
        raise MotifbenchError(f"--thresh {thresh:g} must be at most 1 for q-values; add --evalue for an E-value threshold")
    queries = read_meme(args.queries)
    background = read_meme_background(args.queries)
    targets = jaspar_targets(args.jaspar) if args.jaspar is not None else read_meme(args.targets)
    start = time.perf_counter()
    hits = tomtom(queries, targets, dist=args.dist, min_overlap=args.min_overlap,
                  motif_pseudo=args.motif_pseudo, evalue=args.evalue, thresh=thresh,
                  background=background, internal=args.internal)
    seconds = time.perf_counter() - start
    comments = [
        f"Tomtom (Motif Comparison Tool): motifbench {motifbench_version()} NumPy port of MEME 5.5.8 tomtom",
        "The format of this file is described at https://meme-suite.org/meme/doc/tomtom-output-format.html.",
        _command_line(args, thresh),
        f"{len(queries)} queries, {len(targets)} targets, {len(hits)} matches, {seconds:.2f} s",
    ]
    text = format_tsv(hits, comments)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {len(hits)} matches to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
