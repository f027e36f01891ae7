"""The headline speed figures, each beside its obvious alternative measured in the same run.

One script, one machine state: alternating A/B repeats, medians. Writes
``docs/performance.json`` (every number, the machine, the settings) and the
table in ``docs/performance.md`` between its ``regression-table`` markers.

    python perf/regression_table.py            # full sizes (tens of minutes on 2 cores)
    python perf/regression_table.py --quick    # smaller sizes, a few minutes
    python perf/regression_table.py --only tomtom evaluate

Rows: dataset build (fast vs koo2019-faithful generator) and load (our
loader vs ``datasets``); Tomtom vs memelite (warm 30 / 300 queries, import + first
call in a fresh process) with MEME 5.5.8's CLI times quoted from
``perf/tomtom_speed.py``; ``evaluate()`` of the bundled CNN-25 on the
5,000-sequence test, cold (fresh process) and warm, incremental vs full ISM;
inference ONNX Runtime vs PyTorch eager (the same architecture); a CNN-25
training epoch vs Keras (``/work/venv-keras`` when it exists, else n/a);
worker jobs/min warm fork server vs fresh interpreter; leaderboard first
render parquet vs JSON records.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CNN25 = REPO / "space_app" / "baseline_models" / "cnn-25-relu-seed0" / "model.onnx"
KERAS_PYTHON = Path("/work/venv-keras/bin/python")
#: MEME 5.5.8 tomtom CLI, width-19 queries vs JASPAR 2016, on this machine (perf/tomtom_speed.py).
MEME_CLI_SECONDS = {30: 47.0, 120: 174.0}
SECTIONS = ("dataset", "tomtom", "evaluate", "inference", "training", "worker", "leaderboard")


def alternate(a, b, repeats: int) -> tuple[float, float]:
    """Median seconds of ``a()`` and ``b()`` run alternately (A, B, A, B, ...)."""
    ta, tb = [], []
    for _ in range(repeats):
        for fn, out in ((a, ta), (b, tb)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return statistics.median(ta), statistics.median(tb)


def row(figure: str, ours: float | None, peer: float | None, peer_name: str, unit: str = "s", note: str = "") -> dict:
    return {"figure": figure, "ours": ours, "peer": peer, "peer_name": peer_name, "unit": unit, "note": note}


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "MPLBACKEND": "Agg", "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1"}


def _python(code: str, python: str = sys.executable, timeout: int = 1800) -> str:
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=_env(), timeout=timeout, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}")
    return out.stdout


# -- sections ---------------------------------------------------------------------------------
def dataset_rows(quick: bool, work: Path) -> list[dict]:
    from benchmark.generator import generate_fast, generate_koo2019
    from benchmark.loader import load_split
    from benchmark.motifs import load_motif_set
    from benchmark.synthetic import build_synthetic

    n = 5_000 if quick else 25_000
    entries = load_motif_set().generator_entries()
    fast, koo = alternate(lambda: generate_fast(entries, n=n, seed=0), lambda: generate_koo2019(entries, n=n), 2)
    repo = work / "dataset_small"
    t = time.perf_counter()
    build_synthetic(repo, preset="koo2019", n=n)
    build = time.perf_counter() - t

    def via_datasets():
        from datasets import load_dataset

        ds = load_dataset(str(repo), "synthetic", split="train").with_format("numpy")
        lut = np.zeros(256, dtype=np.int64)
        lut[np.frombuffer(b"ACGT", np.uint8)] = np.arange(4)
        codes = lut[np.frombuffer("".join(ds["sequence"]).encode(), np.uint8).reshape(len(ds), -1)]
        return np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1), np.asarray(ds["labels"], np.float32)

    ours, hf = alternate(lambda: load_split(repo, "synthetic", "train"), via_datasets, 3)
    return [
        row(f"generate {n:,} sequences", fast, koo, "koo2019 faithful per-sequence loop"),
        row(f"build dataset repo ({n:,}: generate + parquet + card)", build, None, "-", note="no peer: one-off"),
        row(f"load train split ({int(n * 0.7):,}) to one-hot", ours, hf, "datasets.load_dataset + with_format"),
    ]


def tomtom_rows(quick: bool) -> list[dict]:
    # a fresh process: the tool's import and its first call (both load compiled code on first use)
    code_first = """
import time, numpy as np
from evaluator.meme_io import MemeMotif, read_meme
from benchmark.jaspar import core_vertebrates_meme
targets = read_meme(core_vertebrates_meme(2016))
rng = np.random.default_rng(0)
qs = [rng.dirichlet(np.full(4, 0.5), size=19) for _ in range(30)]
t = time.perf_counter()
if TOOL == "ours":
    from evaluator.tomtom import tomtom
    tomtom([MemeMotif(f"q{i}", "", q, 20) for i, q in enumerate(qs)], targets)
else:
    from memelite import tomtom
    tomtom([q.T.copy() for q in qs], [m.ppm.T.copy() for m in targets])
print(time.perf_counter() - t)
"""
    first_runs: dict[str, list[float]] = {"ours": [], "memelite": []}
    for _ in range(3):  # alternating fresh processes
        for tool, times in first_runs.items():
            times.append(float(_python(f"TOOL = {tool!r}\n" + code_first).split()[-1]))
    firsts = {tool: statistics.median(times) for tool, times in first_runs.items()}

    import memelite

    from evaluator.meme_io import MemeMotif
    from evaluator.tomtom import jaspar_targets, prepare_targets, tomtom

    targets = jaspar_targets(2016)
    rng = np.random.default_rng(0)
    queries = [rng.dirichlet(np.full(4, 0.5), size=19) for _ in range(300)]
    motifs = [MemeMotif(f"q{i}", "", q, 20) for i, q in enumerate(queries)]
    t_mats = [t.ppm.T.copy() for t in targets]
    q_mats = [q.T.copy() for q in queries]
    prepare_targets(targets)
    tomtom(motifs[:30], targets)
    memelite.tomtom(q_mats[:30], t_mats)
    rows = [row("Tomtom import + first call, 30 queries (fresh process)", firsts["ours"], firsts["memelite"], "memelite 0.5",
                note="ours exact to MEME; memelite approximate (hashed target columns, binned median)")]
    for n in (30, 300):
        ours, peer = alternate(lambda: tomtom(motifs[:n], targets), lambda: memelite.tomtom(q_mats[:n], t_mats),
                               3 if quick else 5)
        meme = MEME_CLI_SECONDS.get(n)
        rows.append(row(f"Tomtom warm, {n} queries vs JASPAR 2016", ours, peer, "memelite 0.5",
                        note=f"MEME 5.5.8 CLI: {meme:.0f} s" if meme else "MEME 5.5.8 CLI: ~1.45 s/query"))
    return rows


def _evaluate_code(incremental: bool, data: Path, out: Path, calls: int) -> str:
    return f"""
import time
t0 = time.perf_counter()
import evaluator.attribution as A
A.INCREMENTAL_DEFAULT = {incremental!r}
from evaluator import evaluate
for i in range({calls}):
    t = time.perf_counter()
    rec = evaluate({str(CNN25)!r}, data={str(data)!r}, out_dir={str(out)!r}, progress=False).to_record()
    print("call", i, time.perf_counter() - t, time.perf_counter() - t0)
print("ism", rec["results"]["attribution"]["mean_auroc"])
"""


def evaluate_rows(quick: bool, work: Path) -> list[dict]:
    from benchmark.synthetic import build_synthetic

    data = work / "dataset_25k"
    if not data.exists():
        build_synthetic(data, preset="koo2019", n=25_000)
    results = {}
    for incremental in (True, False):
        out = _python(_evaluate_code(incremental, data, work / f"eval_{incremental}", 2 if quick else 3))
        calls = [line.split() for line in out.splitlines() if line.startswith("call")]
        results[incremental] = {
            "cold_process": float(calls[0][3]),  # process start (imports included) to first record
            "cold_call": float(calls[0][2]),
            "warm": statistics.median(float(c[2]) for c in calls[1:]),
            "ism_auroc": float(out.split("ism")[-1]),
        }
    inc, full = results[True], results[False]
    gap = abs(inc["ism_auroc"] - full["ism_auroc"])  # float rounding moves near-tied ranks: ~1e-7 on CNN-25
    return [
        row("evaluate CNN-25, 5,000 test seqs, cold (fresh process, imports included)", inc["cold_process"],
            full["cold_process"], "same with full ISM"),
        row("evaluate CNN-25, 5,000 test seqs, warm", inc["warm"], full["warm"], "same with full ISM",
            note=f"ISM mean AUROC, incremental - full: {gap:.1g}"),
    ]


def inference_rows(quick: bool) -> list[dict]:
    import torch

    from baselines.model import build_model
    from baselines.zoo import get_spec
    from evaluator.onnx_model import OnnxModel, random_onehot

    x = random_onehot(5_000, 200, seed=0)
    model = OnnxModel(CNN25, 200, threads=2)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    net = build_model(get_spec("cnn-25"), "relu", 200).eval()  # the same architecture (onnx2torch needs torchvision)
    xt = torch.from_numpy(x)

    def via_torch():
        with torch.no_grad():
            for s in range(0, len(xt), 256):
                net(xt[s:s + 256])

    ours, peer = alternate(lambda: model.predict(x), via_torch, 3 if quick else 5)
    return [row("inference CNN-25, 5,000 seqs (2 threads)", ours, peer, "PyTorch eager, same architecture (baselines.model)")]


KERAS_EPOCH = """
import time
import numpy as np
import tensorflow as tf
from baselines.zoo import get_spec

def keras_epoch(name, x, y, threads):
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    spec = get_spec(name)
    layers = tf.keras.layers
    inputs = tf.keras.Input((200, 4))
    h = inputs
    for block in spec.convs:
        h = layers.Conv1D(block.filters, block.width, padding=block.padding, use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        h = layers.Activation("relu")(h)
        if block.pool > 1:
            h = layers.MaxPool1D(block.pool, block.stride, padding=block.pool_padding)(h)
        h = layers.Dropout(block.dropout)(h)
    h = layers.Flatten()(h)
    for dense in spec.dense:
        h = layers.Dense(dense.units, use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        h = layers.Activation("relu")(h)
        h = layers.Dropout(dense.dropout)(h)
    model = tf.keras.Model(inputs, layers.Dense(12, activation="sigmoid")(h))
    model.compile(tf.keras.optimizers.Adam(1e-3, beta_1=0.95), "binary_crossentropy")
    xt = x.transpose(0, 2, 1)
    model.fit(xt[:500], y[:500], batch_size=100, epochs=1, verbose=0)  # build + trace
    t0 = time.perf_counter()
    model.fit(xt, y, batch_size=100, epochs=1, verbose=0, shuffle=True)
    return time.perf_counter() - t0

def random_data(n, length, seed=0):
    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1)
    return np.ascontiguousarray(x), (rng.random((n, 12)) < 0.2).astype(np.float32)
"""


def training_rows(quick: bool) -> list[dict]:
    n = 2_000 if quick else 17_500
    code = f"""
import sys
sys.path.insert(0, {str(REPO / 'perf')!r})
from train_speed import random_data, epoch_via_fit
from baselines.data import DataBundle
x, y = random_data({n}, 200)
xv, yv = random_data(1_000, 200, seed=1)
print("epoch", epoch_via_fit("cnn-25", DataBundle.from_arrays((x, y), (xv, yv), (xv, yv)), 1, 1)[0])  # wall s
"""
    keras_code = KERAS_EPOCH + f"""
x, y = random_data({n}, 200)
print("epoch", keras_epoch("cnn-25", x, y, 1))
"""
    ours = keras = None
    notes = []
    try:
        out = _python(code)
        ours = _scaled(out, n)
    except Exception as exc:  # keep the table going; say why
        notes.append(f"ours failed: {exc}")
    if KERAS_PYTHON.exists():
        try:
            keras = _scaled(_python(keras_code, python=str(KERAS_PYTHON)), n)
        except Exception as exc:
            notes.append(f"Keras n/a: {exc}")
    else:
        notes.append("Keras n/a: no /work/venv-keras")
    # 1 thread each, as sweeps train here: on the shared 2-core machine 2 threads were 5-20x slower (docs/baselines.md)
    return [row("training epoch CNN-25 (17,500 seqs, batch 100, 1 thread)", ours, keras, "Keras (TensorFlow CPU)",
                note="; ".join(notes + ([f"measured on {n:,} seqs, scaled"] if n != 17_500 else [])))]


def _scaled(out: str, n: int) -> float | None:
    value = out.split("epoch")[-1].strip()
    return None if value == "None" else float(value) * 17_500 / n


def worker_rows(quick: bool) -> list[dict]:
    args = ["--jobs", "3", "--limit", "100"] if quick else ["--jobs", "8"]
    out = subprocess.run([sys.executable, str(REPO / "perf" / "worker_throughput.py"), *args], capture_output=True,
                         text=True, env=_env(), timeout=3600, cwd=REPO).stdout
    rates = {}
    for m in re.finditer(r"^\s*(\d+)\s+(warm fork|fresh python)\s+([\d.]+)\s+([\d.]+)\s*$", out, re.M):
        rates[(int(m.group(1)), m.group(2))] = float(m.group(4))
    warm = max((v for (w, k), v in rates.items() if "warm" in k or "fork" in k), default=None)
    cold = max((v for (w, k), v in rates.items() if not ("warm" in k or "fork" in k)), default=None)
    return [row("worker jobs/min (cnn-25-shaped models)", warm, cold, "fresh interpreter per job", unit="jobs/min",
                note=f"perf/worker_throughput.py {' '.join(args)}")]


def leaderboard_rows(quick: bool) -> list[dict]:
    args = ["--rows", "200", "--loads", "2"] if quick else ["--rows", "1000", "--loads", "5"]
    out = subprocess.run([sys.executable, str(REPO / "perf" / "leaderboard_render.py"), *args], capture_output=True,
                         text=True, env=_env(), timeout=3600, cwd=REPO).stdout
    page = {}
    for m in re.finditer(r"^(parquet|json)\s+\d+ ms\s+\d+ ms\s+(\d+) ms", out, re.M):
        page[m.group(1)] = float(m.group(2)) / 1e3
    return [row(f"leaderboard first render, {args[1]} rows (request -> table visible)", page.get("parquet"),
                page.get("json"), "JSON records read at load", note=f"perf/leaderboard_render.py {' '.join(args)}")]


# -- output ---------------------------------------------------------------------------------
def _fmt(value, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f} {unit}" if unit != "s" else (f"{value:.3f} s" if value < 1 else f"{value:.2f} s")


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"Measured {meta['date']} on {meta['machine']} ({meta['mode']}; `python perf/regression_table.py"
             f"{' --quick' if meta['mode'] == 'quick' else ''}`). Medians of alternating A/B repeats."
             + (f" {meta['note']}." if meta.get("note") else ""), "",
             "| figure | motifbench | peer | peer is | note |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['figure']} | {_fmt(r['ours'], r['unit'])} | {_fmt(r['peer'], r['unit'])} | "
                     f"{r['peer_name']} | {r['note']} |")
    return "\n".join(lines) + "\n"


def write_docs(rows: list[dict], meta: dict) -> None:
    (REPO / "docs" / "performance.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    doc = REPO / "docs" / "performance.md"
    text = doc.read_text() if doc.exists() else "# Performance\n\n<!-- regression-table -->\n<!-- /regression-table -->\n"
    start, end = "<!-- regression-table -->", "<!-- /regression-table -->"
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    doc.write_text(f"{head}{start}\n{markdown(rows, meta)}{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a few minutes")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/ alone")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    os.environ.update(_env())
    work = Path(tempfile.mkdtemp(prefix="motifbench-regression-"))
    funcs = {"dataset": lambda: dataset_rows(args.quick, work), "tomtom": lambda: tomtom_rows(args.quick),
             "evaluate": lambda: evaluate_rows(args.quick, work), "inference": lambda: inference_rows(args.quick),
             "training": lambda: training_rows(args.quick), "worker": lambda: worker_rows(args.quick),
             "leaderboard": lambda: leaderboard_rows(args.quick)}
    rows = []
    for name in SECTIONS:
        if name not in args.only:
            continue
        t = time.perf_counter()
        try:
            got = funcs[name]()
        except Exception as exc:  # one broken section must not hide the others
            got = [row(name, None, None, "-", note=f"failed: {type(exc).__name__}: {exc}")]
        for r in got:
            r["section"] = name
        rows += got
        print(f"[{name}: {time.perf_counter() - t:.0f} s]", flush=True)
        for r in got:
            print(f"  {r['figure']}: {_fmt(r['ours'], r['unit'])} vs {_fmt(r['peer'], r['unit'])} ({r['peer_name']}) {r['note']}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "mode": "quick" if args.quick else "full",
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at the end",
            "python": platform.python_version(), "sections": args.only}
    previous = REPO / "docs" / "performance.json"
    if set(args.only) != set(SECTIONS) and previous.exists():  # keep the other sections' last figures
        kept = [r for r in json.loads(previous.read_text())["rows"] if r.get("section") not in args.only]
        rows = kept + rows
        rows.sort(key=lambda r: SECTIONS.index(r["section"]) if r.get("section") in SECTIONS else 0)
        meta["sections"] = sorted({r.get("section") for r in rows if r.get("section")}, key=SECTIONS.index)
        meta["note"] = f"{', '.join(args.only)} re-measured at {meta['date']}; other rows from the previous run"
    print(markdown(rows, meta))
    if not args.no_write:
        write_docs(rows, meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
