"""The GPU checks of issue 13 in one script, for a session that is lent a CUDA machine for a few minutes.

Runs, on ``--device`` (default ``auto``: CUDA when present), and writes every
figure to ``OUT/gpu_check.json`` (``--out``, default ``$OUT`` else
``gpu_check``) as it goes, so a run cut short still brings back what it measured:

1. **device**: torch and CUDA versions, the GPU, bfloat16 support, what
   ``--device auto`` picks (`baselines.device.select_device`) and the autocast
   settings training would use (`baselines.device.amp_settings`);
2. **speed**: seconds per training epoch of the real loop (`baselines.train.fit`)
   for cnn-25 and cnn-2 (``--models``) on 17,500 random sequences (the
   synthetic train split's size; batch 100, koo2019 optimiser), float32 and
   under autocast, the median of ``--epochs`` epochs after the first (which
   holds cuDNN's autotuning);
3. **determinism**: the same seed trained twice (cnn-25, 2 epochs, each
   precision): bit-identical weights or the largest difference (GPU kernels
   may be nondeterministic; CPU runs are bit-identical);
4. **grid**: the ``results`` sweep preset in float32 (``amp=False``, the papers'
   precision), evaluated with both PPM methods, in reverse seed-major order (the
   cells a CPU sweep reaches last come first) into ``OUT/grid``, one run after
   another until ``--grid-budget-s`` is spent (a run is not started when the
   median run so far would not fit). Copy the finished run folders into the CPU
   sweep folder: they resume as complete.

The dataset is read from ``--data`` or built (koo2019 preset, dataset v1.0.0)
into ``OUT/data`` when that is missing.

Usage: python perf/gpu_check.py [--out DIR] [--device auto] [--grid-budget-s 300]
       [--models cnn-25,cnn-2] [--epochs 3] [--data DIR] [--quick]
(``--quick``: 2,000 sequences, 2 epochs, one tiny grid run on 200 sequences; for a CPU smoke test.)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import random_data  # noqa: E402 - the same random one-hot data as the CPU figures

from baselines.data import DataBundle  # noqa: E402
from baselines.device import amp_settings, select_device  # noqa: E402
from baselines.model import build_model  # noqa: E402
from baselines.protocols import get_protocol  # noqa: E402
from baselines.train import fit, reproducible  # noqa: E402
from baselines.zoo import get_spec  # noqa: E402


def device_facts(device: torch.device) -> dict:
    """What the machine offers and what training would use on it."""
    facts = {"torch": torch.__version__, "cuda_available": torch.cuda.is_available(),
             "cuda_version": torch.version.cuda, "selected_by_auto": str(select_device("auto")),
             "device": str(device)}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        facts.update(name=props.name, capability=f"{props.major}.{props.minor}",
                     memory_gib=round(props.total_memory / 2**30, 1), bf16=torch.cuda.is_bf16_supported(),
                     cudnn=torch.backends.cudnn.version())
    amp = amp_settings(device, enabled=True)
    facts["autocast"] = {"enabled": amp.enabled, "dtype": str(amp.dtype), "grad_scaler": amp.use_scaler}
    return facts


def train_once(name: str, data: DataBundle, device: torch.device, epochs: int, amp: bool, seed: int = 0):
    """(model, fit result) of one short training run of ``name`` (relu) under the koo2019 optimiser."""
    protocol = get_protocol("koo2019", epochs=epochs, patience=epochs)
    with reproducible(device, seed):
        model = build_model(get_spec(name), "relu", data.length)
        result = fit(model, data, protocol, device=device, seed=seed, amp=amp, progress=False)
    return model, result


def epoch_seconds(name: str, data: DataBundle, device: torch.device, epochs: int, amp: bool) -> dict:
    """Seconds per epoch (median after the first), validation pass included, as fit logs them."""
    _, result = train_once(name, data, device, epochs, amp)
    seconds = [r["seconds"] for r in result.history]
    return {"first_epoch_s": round(seconds[0], 3), "epoch_s": round(float(np.median(seconds[1:] or seconds)), 3)}


def determinism(data: DataBundle, device: torch.device, amp: bool) -> dict:
    """Train cnn-25 twice on one seed; compare every weight."""
    a, _ = train_once("cnn-25", data, device, 2, amp)
    b, _ = train_once("cnn-25", data, device, 2, amp)
    sa, sb = a.state_dict(), b.state_dict()
    diff = max(float((sa[k].float() - sb[k].float()).abs().max()) for k in sa)
    return {"bit_identical": all(torch.equal(sa[k], sb[k]) for k in sa), "max_abs_weight_diff": diff}


def grid(out: Path, data_dir: Path, device: torch.device, budget_s: float, quick: bool) -> dict:
    """Run the results preset's cells, last seeds first, until the budget is spent."""
    from baselines.sweep import execute, get_preset, plan_grid

    preset = get_preset("results")
    protocol = get_protocol(preset.protocol, **({"epochs": 1} if quick else {}))
    tasks = plan_grid(preset.cells(), out, protocol, data_source=str(data_dir), device=device.type, amp=False,
                      evaluate=not quick, progress=False, limit=200 if quick else None)[::-1]
    started, durations, rows = time.perf_counter(), [], []
    for task in tasks[:1] if quick else tasks:
        spent = time.perf_counter() - started
        if durations and spent + float(np.median(durations)) > budget_s:
            break
        t0 = time.perf_counter()
        row = execute(task)
        durations.append(time.perf_counter() - t0)
        rows.append({k: row.get(k) for k in ("model", "activation", "seed", "status", "test_auroc", "epochs_run",
                                             "train_seconds", "match_ground_truth_fraction")})
        print(f"grid: {row['model']} {row['activation']} seed {row['seed']}: {row['status']} in "
              f"{durations[-1]:.0f} s, test AUROC {row.get('test_auroc', float('nan')):.4f}", flush=True)
    return {"runs": rows, "seconds": round(time.perf_counter() - started, 1), "budget_s": budget_s,
            "planned": len(tasks)}


def dataset(out: Path, given: str | None, quick: bool) -> Path:
    """The synthetic dataset folder: ``given``, or built into ``out/data`` (koo2019 preset)."""
    if given:
        return Path(given)
    from benchmark.synthetic import build_synthetic

    folder = out / "data" / "motifbench"
    if not folder.is_dir():
        build_synthetic(folder, preset="koo2019", **({"n": 2_000} if quick else {}))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check")))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", default="cnn-25,cnn-2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--grid-budget-s", type=float, default=300.0)
    parser.add_argument("--data", help="synthetic dataset folder (default: build one into OUT/data)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a CPU smoke test of the script")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    device = select_device(args.device)
    report: dict = {"args": {k: str(v) for k, v in vars(args).items()}}
    path = args.out / "gpu_check.json"

    def save() -> None:
        path.write_text(json.dumps(report, indent=2) + "\n")

    def step(name: str, fn) -> None:
        t0 = time.perf_counter()
        try:
            report[name] = fn()
        except Exception as exc:  # noqa: BLE001 - record and go on: the other checks still tell something
            report[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
        report[name + "_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"{name}: {json.dumps(report[name])[:600]}", flush=True)
        save()

    n = 2_000 if args.quick else 17_500
    epochs = 2 if args.quick else args.epochs
    x, y = random_data(n + 2_500, 200)
    data = DataBundle.from_arrays((x[:n], y[:n]), (x[n:], y[n:]), (x[n:], y[n:]),
                                  source={"source": "random one-hot (perf/gpu_check.py)"})
    step("device", lambda: device_facts(device))
    step("speed", lambda: {f"{m} {'autocast' if amp else 'float32'}": epoch_seconds(m, data, device, epochs, amp)
                           for m in args.models.split(",") for amp in (False, True)})
    step("determinism", lambda: {("autocast" if amp else "float32"): determinism(data, device, amp)
                                 for amp in (False, True)})
    data_dir = dataset(args.out, args.data, args.quick)
    step("grid", lambda: grid(args.out / "grid", data_dir, device, args.grid_budget_s, args.quick))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
