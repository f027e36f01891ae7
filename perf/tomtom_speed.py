"""Wall time of evaluator.tomtom vs memelite's tomtom, width-19 queries vs JASPAR 2016 CORE vertebrates.

- first call: the tool's import and its first call (30 queries) in a fresh Python process
  (memelite: numba loading or compiling; ours: numba loading, or the NumPy kernels while
  numba's cache is cold), fresh processes alternating ours / memelite, ``--first-runs`` each;
- warm: in one process, ours (ED, MEME's default) and memelite called alternately
  ``--repeats`` times per size; medians. Ours with Pearson is timed in the same rounds, and
  ours computing what memelite computes: every pair's p/E-value on its better strand and
  nothing else (``best_strand_evalues``: no q-values, no MEME ordering, no table). The
  ``motifbench (ed)`` row is MEME's full output (q-values from MEME's bootstrap, MEME's
  order, the thresholded table), work memelite does not do.

Seconds are wall / process CPU (CPU > wall: several threads; wall > CPU: a busy machine).

    python perf/tomtom_speed.py                    # 30 and 300 queries
    python perf/tomtom_speed.py --sizes 30 120 1000 --repeats 7

For reference, MEME 5.5.8's tomtom CLI took 47 s for 30 and 174 s for 120
such queries on this machine (../shared/tomtom-reference/README.md).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

WIDTH = 19
FIRST_QUERIES = 30


def make_queries(n: int, seed: int = 0) -> list[np.ndarray]:
    """Width-19 PPMs (width, 4): Dirichlet(0.5) columns, like partly learned filters."""
    rng = np.random.default_rng(seed)
    return [rng.dirichlet(np.full(4, 0.5), size=WIDTH) for _ in range(n)]


def _first_call(tool: str) -> tuple[float, float]:
    """(wall, CPU) of importing ``tool`` and calling it on 30 queries, in this (fresh) process."""
    from evaluator.meme_io import MemeMotif
    from evaluator.tomtom import jaspar_targets

    targets = jaspar_targets(2016)
    queries = make_queries(FIRST_QUERIES)
    start, cpu = time.perf_counter(), time.process_time()
    if tool == "motifbench":
        from evaluator.tomtom import tomtom

        tomtom([MemeMotif(f"q{i}", "", q, 20) for i, q in enumerate(queries)], targets, thresh=0.1)
    else:
        from memelite import tomtom

        tomtom([q.T.copy() for q in queries], [t.ppm.T.copy() for t in targets])
    return time.perf_counter() - start, time.process_time() - cpu


def _timed(call, n: int) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    call(n)
    return time.perf_counter() - start, time.process_time() - cpu


def _warm(sizes: list[int], repeats: int) -> dict[str, dict[int, list[tuple[float, float]]]]:
    """Warm calls, ours (ED), memelite and ours (Pearson) alternating, ``repeats`` rounds per size."""
    import memelite

    from evaluator.meme_io import MemeMotif
    from evaluator.tomtom import best_strand_evalues, jaspar_targets, prepare_targets, tomtom

    targets = jaspar_targets(2016)
    queries = make_queries(max(sizes))
    motifs = [MemeMotif(f"q{i}", "", q, 20) for i, q in enumerate(queries)]
    t_mats = [t.ppm.T.copy() for t in targets]
    q_mats = [q.T.copy() for q in queries]
    prepare_targets(targets)
    calls = {
        "motifbench (ed)": lambda n: tomtom(motifs[:n], targets, thresh=0.1),
        "memelite (default)": lambda n: memelite.tomtom(q_mats[:n], t_mats),
        "motifbench (ed, E only)": lambda n: best_strand_evalues(motifs[:n], targets),
        "motifbench (pearson)": lambda n: tomtom(motifs[:n], targets, dist="pearson", thresh=0.1),
    }
    for call in calls.values():  # load compiled code, prepare targets, draw the q-value tables once
        call(min(sizes))
    out: dict[str, dict[int, list]] = {name: {n: [] for n in sizes} for name in calls}
    for n in sizes:
        for _ in range(repeats):
            for name, call in calls.items():
                out[name][n].append(_timed(call, n))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 300])
    parser.add_argument("--repeats", type=int, default=5, help="alternating warm rounds per size")
    parser.add_argument("--first-runs", type=int, default=3, help="fresh processes per tool for the first call")
    parser.add_argument("--child", metavar="TOOL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_first_call(args.child)))
        return
    firsts: dict[str, list] = {"motifbench": [], "memelite": []}
    for _ in range(args.first_runs):
        for tool, times in firsts.items():
            out = subprocess.run([sys.executable, __file__, "--child", tool], capture_output=True, text=True,
                                 check=True, env=os.environ)
            times.append(json.loads(out.stdout.strip().splitlines()[-1]))
    warm = _warm(args.sizes, args.repeats)

    def med(pairs):
        return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)

    print(f"width-{WIDTH} queries vs JASPAR 2016 CORE vertebrates (519 targets); medians, seconds wall/CPU; "
          f"first call: import + {FIRST_QUERIES} queries in a fresh process (x{args.first_runs}); "
          f"warm: alternating rounds (x{args.repeats}); {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'tool':<24}{'first call':>14}" + "".join(f"{f'warm {n}':>16}" for n in args.sizes))
    first_of = {"motifbench (ed)": firsts["motifbench"], "memelite (default)": firsts["memelite"]}
    for name, by_size in warm.items():
        first = first_of.get(name)
        cell = "{:.2f}/{:.2f}".format(*med(first)) if first else "-"
        print(f"{name:<24}{cell:>14}" + "".join(f"{'{:.3f}/{:.3f}'.format(*med(by_size[n])):>16}"
                                               for n in args.sizes))
    ours, peer = warm["motifbench (ed)"], warm["memelite (default)"]
    print("ours (ed) / memelite, warm wall medians: " + ", ".join(
        f"{n} q {med(ours[n])[0] / med(peer[n])[0]:.2f}x" for n in args.sizes))
    same = warm["motifbench (ed, E only)"]
    print("ours (ed, E only: memelite's output) / memelite, warm wall medians: " + ", ".join(
        f"{n} q {med(same[n])[0] / med(peer[n])[0]:.2f}x" for n in args.sizes))
    print(f"{'MEME 5.5.8 tomtom CLI':<24}{'':>14}" + "".join(
        f"{({30: '47', 120: '174'}.get(n, '-')):>16}" for n in args.sizes))


if __name__ == "__main__":
    main()
