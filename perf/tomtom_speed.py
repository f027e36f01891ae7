"""Wall time of evaluator.tomtom vs memelite's tomtom, width-19 queries vs JASPAR 2016 CORE vertebrates.

Each tool runs in a fresh Python process, so "first call" includes whatever a
user pays on the first call of a session (memelite: numba compilation) but not
the imports; "warm" calls follow in the same process.

    python perf/tomtom_speed.py            # 30 / 120 / 1000 queries
    python perf/tomtom_speed.py --sizes 30 120

For reference, MEME 5.5.8's tomtom CLI took 47 s for 30 and 174 s for 120
such queries on this machine (../shared/tomtom-reference/README.md).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

WIDTH = 19


def make_queries(n: int, seed: int = 0) -> list[np.ndarray]:
    """Width-19 PPMs (width, 4): Dirichlet(0.5) columns, like partly learned filters."""
    rng = np.random.default_rng(seed)
    return [rng.dirichlet(np.full(4, 0.5), size=WIDTH) for _ in range(n)]


def _child(tool: str, dist: str, sizes: list[int]) -> dict:
    from evaluator.meme_io import MemeMotif
    from evaluator.tomtom import jaspar_targets

    targets = jaspar_targets(2016)
    queries = make_queries(max(sizes))
    if tool == "motifbench":
        from evaluator.tomtom import tomtom

        motifs = [MemeMotif(f"q{i}", "", q, 20) for i, q in enumerate(queries)]

        def call(n):
            tomtom(motifs[:n], targets, dist=dist, thresh=0.1)
    else:
        from memelite import tomtom

        t_mats = [t.ppm.T.copy() for t in targets]
        q_mats = [q.T.copy() for q in queries]

        def call(n):
            tomtom(q_mats[:n], t_mats)
    out = {}
    start, cpu = time.perf_counter(), time.process_time()
    call(sizes[0])
    out["first"] = (sizes[0], time.perf_counter() - start, time.process_time() - cpu)
    for n in sizes:
        start, cpu = time.perf_counter(), time.process_time()
        call(n)
        out[str(n)] = (time.perf_counter() - start, time.process_time() - cpu)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 120, 1000])
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "DIST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1], args.sizes)))
        return
    runs = [("motifbench", "ed"), ("motifbench", "pearson"), ("memelite", "ed-like")]
    print(f"width-{WIDTH} queries vs JASPAR 2016 CORE vertebrates (519 targets); "
          "seconds as wall / process CPU (CPU > wall: several threads; wall > CPU: a busy machine)")
    header = f"{'tool':<28}{'first call':>22}" + "".join(f"{f'warm {n}':>16}" for n in args.sizes)
    print(header)
    for tool, dist in runs:
        cmd = [sys.executable, __file__, "--child", tool, dist, "--sizes", *map(str, args.sizes)]
        result = subprocess.run(cmd, capture_output=True, text=True, check=True)
        times = json.loads(result.stdout.strip().splitlines()[-1])
        n_first, first, first_cpu = times["first"]
        label = f"{tool} ({'memelite default' if tool == 'memelite' else dist})"
        row = f"{label:<28}{f'{first:.2f}/{first_cpu:.2f} ({n_first} q)':>22}" + "".join(
            f"{f'{times[str(n)][0]:.2f}/{times[str(n)][1]:.2f}':>16}" for n in args.sizes)
        print(row, flush=True)
    print(f"{'MEME 5.5.8 tomtom CLI':<28}{'':>22}" + "".join(
        f"{({30: '47', 120: '174'}.get(n, '-')):>16}" for n in args.sizes))


if __name__ == "__main__":
    main()
