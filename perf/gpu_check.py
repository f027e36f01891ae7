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
   precision), each time in a fresh process (so cuDNN chooses its algorithms
   afresh): bit-identical weights or the largest difference (GPU kernels may
   be nondeterministic; CPU runs are bit-identical);
4. **grid**: the ``results`` sweep preset in float32 (``amp=False`` and TF32
   off: the papers' precision), in reverse seed-major order (the cells a CPU
   sweep reaches last come first), one run after another until
   ``--grid-budget-s`` is spent (a run is not started when the median run so
   far would not fit). Runs are trained only: the evaluator is CPU work, so
   score them afterwards where they land (``motifbench results score``). The
   run folders are written under ``--work`` and, after every run, packed into
   ``OUT/grid.tar.gz`` (the report is saved after every run too); unpack it in
   the CPU sweep folder and the runs resume there as complete.

The dataset is read from ``--data`` (bring the one built here: building needs
pyjaspar and Biopython) or built into ``--work`` when not given.

Usage: python perf/gpu_check.py [--out DIR] [--work DIR] [--device auto] [--grid-budget-s 300]
       [--models cnn-25,cnn-2] [--epochs 3] [--data DIR] [--quick]
(``--quick``: 2,000 sequences, 2 epochs, one tiny grid run on 200 sequences; for a CPU smoke test.)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # runs from a bare checkout too (the project need not be installed)
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
    facts["tf32_default"] = {"cudnn": torch.backends.cudnn.allow_tf32,
                             "matmul": torch.backends.cuda.matmul.allow_tf32}
    return facts


def full_float32() -> None:
    """No TF32 in convolutions or matmuls (CUDA's default lets cuDNN use it): the papers' float32."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def make_data(n: int) -> DataBundle:
    """n random training sequences and 2,500 validation ones (the synthetic split sizes at full n)."""
    x, y = random_data(n + 2_500, 200)
    return DataBundle.from_arrays((x[:n], y[:n]), (x[n:], y[n:]), (x[n:], y[n:]),
                                  source={"source": "random one-hot (perf/gpu_check.py)"})


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


def determinism(device: torch.device, amp: bool, n: int, work: Path) -> dict:
    """Train cnn-25 on one seed in two fresh processes; compare every weight."""
    files = []
    for i in range(2):
        path = work / f"determinism-{'amp' if amp else 'fp32'}-{i}.pt"
        subprocess.run([sys.executable, __file__, "--child-weights", str(path), "--device", str(device),
                        "--n", str(n)] + (["--amp"] if amp else []), check=True, capture_output=True, text=True)
        files.append(torch.load(path))
    sa, sb = files
    diff = max(float((sa[k].float() - sb[k].float()).abs().max()) for k in sa)
    return {"bit_identical": all(torch.equal(sa[k], sb[k]) for k in sa), "max_abs_weight_diff": diff}


def child_weights(path: Path, device: torch.device, n: int, amp: bool) -> None:
    """The determinism check's child: 2 epochs of cnn-25 on seed 0, weights saved to ``path``."""
    full_float32()  # as in the parent
    model, _ = train_once("cnn-25", make_data(n), device, 2, amp)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)


def grid(work: Path, out: Path, data_dir: Path, device: torch.device, budget_s: float, quick: bool,
         progress=None) -> dict:
    """Train the results preset's cells, last seeds first, until the budget is spent; pack them into OUT."""
    from baselines.run import is_complete
    from baselines.sweep import execute, get_preset, plan_grid

    full_float32()
    preset = get_preset("results")
    protocol = get_protocol(preset.protocol, **({"epochs": 1} if quick else {}))
    tasks = plan_grid(preset.cells(), work / "grid", protocol, data_source=str(data_dir), device=str(device),
                      amp=False, evaluate=False, progress=False, limit=200 if quick else None)[::-1]
    started, durations = time.perf_counter(), []
    report = {"runs": [], "seconds": 0.0, "budget_s": budget_s, "planned": len(tasks), "precision": "float32, no TF32"}
    for task in tasks[:1] if quick else tasks:
        spent = time.perf_counter() - started
        if durations and spent + float(np.median(durations)) > budget_s:
            break
        t0 = time.perf_counter()
        row = execute(task)
        durations.append(time.perf_counter() - t0)
        report["runs"].append({k: row.get(k) for k in ("model", "activation", "seed", "status", "test_auroc",
                                                       "epochs_run", "best_epoch", "train_seconds")})
        report["seconds"] = round(time.perf_counter() - started, 1)
        with tarfile.open(out / "grid.tar.gz", "w:gz") as tar:  # every finished run so far, rewritten each time
            for t in tasks:
                if is_complete(t.run_dir):
                    tar.add(t.run_dir, arcname=str(Path(t.run_dir).relative_to(work / "grid")))
        print(f"grid: {row['model']} {row['activation']} seed {row['seed']}: {row['status']} in "
              f"{durations[-1]:.0f} s, test AUROC {row.get('test_auroc', float('nan')):.4f}", flush=True)
        if progress is not None:
            progress(report)
    return report


def dataset(work: Path, given: str | None, quick: bool) -> Path:
    """The synthetic dataset folder: ``given``, or built into ``work/data`` (koo2019 preset)."""
    if given:
        return Path(given)
    from benchmark.synthetic import build_synthetic

    folder = work / "data" / "motifbench"
    if not folder.is_dir():
        build_synthetic(folder, preset="koo2019", **({"n": 2_000} if quick else {}))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check")),
                        help="the report and grid.tar.gz (default $OUT)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu_check_work"),
                        help="scratch: dataset, run folders, determinism weights")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", default="cnn-25,cnn-2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--grid-budget-s", type=float, default=300.0)
    parser.add_argument("--data", help="synthetic dataset folder (default: build one into --work)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a CPU smoke test of the script")
    parser.add_argument("--child-weights", type=Path, help=argparse.SUPPRESS)  # the determinism check's child
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--amp", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    device = select_device(args.device)
    n = args.n or (2_000 if args.quick else 17_500)
    if args.child_weights:
        child_weights(args.child_weights, device, n, args.amp)
        return 0
    for folder in (args.out, args.work):
        folder.mkdir(parents=True, exist_ok=True)
    report: dict = {"args": {k: str(v) for k, v in vars(args).items() if not k.startswith("child")}}
    path = args.out / "gpu_check.json"

    def save() -> None:
        path.write_text(json.dumps(report, indent=2) + "\n")

    def step(name: str, fn) -> object:
        t0 = time.perf_counter()
        try:
            report[name] = fn()
        except Exception as exc:  # noqa: BLE001 - record and go on: the other checks still tell something
            report[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
        report[name + "_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"{name}: {json.dumps(report[name])[:600]}", flush=True)
        save()
        return report[name]

    def grid_progress(partial: dict) -> None:
        report["grid"] = partial
        save()

    epochs = 2 if args.quick else args.epochs
    data = make_data(n)
    step("device", lambda: device_facts(device))
    full_float32()  # every float32 figure below is float32 proper, as the grid trains
    step("speed", lambda: {f"{m} {'autocast' if amp else 'float32'}": epoch_seconds(m, data, device, epochs, amp)
                           for m in args.models.split(",") for amp in (False, True)})
    step("determinism", lambda: {("autocast" if amp else "float32"): determinism(device, amp, n, args.work)
                                 for amp in (False, True)})
    data_dir = step("dataset", lambda: str(dataset(args.work, args.data, args.quick)))
    if isinstance(data_dir, str):
        step("grid", lambda: grid(args.work, args.out, Path(data_dir), device, args.grid_budget_s, args.quick,
                                  progress=grid_progress))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
