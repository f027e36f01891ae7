"""One training run end to end: a run folder with weights, ONNX, log, curves and spec.json.

A run folder is complete only when its ``COMPLETE`` marker exists; it is
written last, so a folder without it is an interrupted run that a sweep
discards and redoes from scratch.

Run folder::

    model.safetensors   weights + BN buffers
    model.onnx          submission-contract export (see baselines.export)
    spec.json           everything needed to rebuild and to trust the numbers
    train_log.jsonl     one JSON record per epoch
    curves.png          loss and validation auPR per epoch
    COMPLETE            marker, written last
"""
from __future__ import annotations

import json
import numbers
import platform
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from baselines.data import DataBundle, load_data
from baselines.device import amp_settings, default_threads, select_device
from baselines.errors import BaselineError
from baselines.export import (
    INPUT_NAME, LOGITS_NAME, ONNX_FILE, OUTPUT_NAMES, SPEC_FILE, TAP_NAME, WEIGHTS_FILE, export_onnx, onnx_metadata,
    save_weights,
)
from baselines.metrics import macro_scores
from baselines.model import build_model
from baselines.protocols import Protocol
from baselines.train import fit, predict, reproducible, write_curves
from baselines.zoo import ModelSpec, check_activation, check_seed, get_spec
from benchmark.versions import motifbench_version

MARKER_FILE = "COMPLETE"
LOG_FILE = "train_log.jsonl"
CURVES_FILE = "curves.png"
SPEC_SCHEMA = "motifbench.baseline-run/1"


def is_complete(run_dir: Path | str) -> bool:
    """True when the run folder holds a finished run (its marker exists)."""
    return (Path(run_dir) / MARKER_FILE).is_file()


#: What a run folder may hold: its files, the evaluator's records folder, and temporary files (``*.tmp``)
#: of an interrupted write. A folder holding anything else is never cleared.
RUN_ENTRIES = frozenset({SPEC_FILE, WEIGHTS_FILE, ONNX_FILE, LOG_FILE, CURVES_FILE, MARKER_FILE, "evaluation"})


def foreign_entries(run_dir: Path) -> list[str]:
    """Names in ``run_dir`` that no run writes (sorted)."""
    def ours(name: str) -> bool:
        return name in RUN_ENTRIES or name.endswith(".tmp")

    return sorted(p.name for p in run_dir.iterdir() if not ours(p.name))


def prepare_run_dir(run_dir: Path | str, *, overwrite: bool = False) -> Path:
    """Create an empty run folder; an interrupted one (no marker) is cleared, a complete one
    is an error unless ``overwrite``. A folder holding anything a run does not write (a
    sweep, a dataset, notes) is refused, never cleared."""
    run_dir = Path(run_dir)
    if run_dir.exists():
        if not run_dir.is_dir():
            raise BaselineError(f"{run_dir} exists and is not a folder")
        foreign = foreign_entries(run_dir)
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise BaselineError(f"{run_dir} holds files that are not a training run's ({shown}); it is not "
                                "cleared: choose a new or empty --out")
        if is_complete(run_dir) and not overwrite:
            raise BaselineError(f"{run_dir} already holds a finished run; pass --overwrite or choose another --out")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    return run_dir


def check_split_sizes(data: DataBundle, limit: int | None = None) -> None:
    """Refuse splits too small to train on: batch norm needs 2 training rows, scoring 1 row of each other split."""
    sizes = {"train": len(data.train.x), "valid": len(data.valid.x), "test": len(data.test.x)}
    if sizes["train"] < 2 or sizes["valid"] < 1 or sizes["test"] < 1:
        hint = f" (--limit {limit} keeps the first {limit} rows of each split)" if limit is not None else ""
        raise BaselineError("too few rows to train on: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items())
                            + f"{hint}; training needs at least 2 training rows and 1 validation and test row")


def train_run(
    model: str | ModelSpec,
    *,
    activation: str,
    seed: int,
    protocol: Protocol,
    out_dir: Path | str,
    data: DataBundle | None = None,
    data_source: str | Path | None = None,
    config: str = "synthetic",
    revision: str | None = None,
    limit: int | None = None,
    device: str = "auto",
    amp: bool = True,
    cpu_amp: bool = False,
    threads: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train one zoo model and write a complete run folder; returns the spec.json record.

    Parameters
    ----------
    model : str or ModelSpec
        A zoo name (``"cnn-25"``) or a spec.
    activation : {"relu", "exp"}
        First-layer activation.
    seed : int
        Seeds initialisation, dropout and shuffling.
    protocol : Protocol
        Optimiser, loss and stopping settings (see `baselines.protocols`).
    out_dir : path
        The run folder (created; an unfinished one is cleared).
    data : DataBundle, optional
        In-memory splits; when omitted they are loaded from ``data_source`` /
        ``config`` with the benchmark loader.
    limit : int, optional
        Keep the first ``limit`` rows of each split (smoke runs).
    device : {"auto", "cpu", "cuda", "mps"}
        Training device.
    amp, cpu_amp : bool
        Autocast on CUDA; bfloat16 autocast on CPU as well (off by default: it
        changes the trained numbers; recorded in spec.json ``amp``).
    """
    spec = get_spec(model) if isinstance(model, str) else model
    check_activation(activation)
    check_seed(seed)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1):
        raise BaselineError(f"threads must be a whole number of at least 1, got {threads!r} (leave it out to use "
                            "every CPU this process may use)")
    torch_device = select_device(device)
    if data is None:
        data = load_data(data_source, config=config, revision=revision, limit=limit)
    check_split_sizes(data, limit)
    length = data.length
    spec.lengths(length)  # fail before creating anything if the input is too short
    run_dir = prepare_run_dir(out_dir, overwrite=overwrite)
    started = time.perf_counter()
    n_threads = threads or default_threads()
    with reproducible(torch_device, seed, n_threads):
        net = build_model(spec, activation, length)
        with (run_dir / LOG_FILE).open("w") as log:
            result = fit(net, data, protocol, device=torch_device, seed=seed, amp=amp, cpu_amp=cpu_amp,
                         progress=progress, log_file=log)
        amp_cfg = amp_settings(torch_device, enabled=amp, cpu=cpu_amp)
        valid = macro_scores(data.valid.y.numpy(), predict(net, data.valid.x, batch_size=protocol.eval_batch_size, amp=amp_cfg))
        test = macro_scores(data.test.y.numpy(), predict(net, data.test.x, batch_size=protocol.eval_batch_size, amp=amp_cfg))
    net = net.cpu().eval()
    counts = spec.parameter_counts(length)
    record: dict[str, Any] = {
        "schema": SPEC_SCHEMA,
        "zoo_name": spec.name,
        "spec": spec.to_dict(),
        "activation": activation,
        "input_length": length,
        "parameters": {"trainable": counts.trainable, "keras_total": counts.keras_total},
        "protocol": protocol.to_dict(),
        "seed": seed,
        "dataset": data.source,
        "motifbench_version": motifbench_version(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": str(torch_device),
        "amp": {"enabled": amp_cfg.enabled, "dtype": str(amp_cfg.dtype).removeprefix("torch.")},
        "threads": n_threads if torch_device.type == "cpu" else None,
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "weights_epoch": result.weights_epoch,
        "stopped_early": result.stopped_early,
        "diverged": result.diverged,
        "train_seconds": result.wall_time,
        "valid": valid._asdict(),
        "test": test._asdict(),
        "files": {"weights": WEIGHTS_FILE, "onnx": ONNX_FILE, "log": LOG_FILE, "curves": CURVES_FILE},
        "onnx": {"input": INPUT_NAME, "outputs": list(OUTPUT_NAMES), "tap": TAP_NAME, "output_kind": "probabilities",
                 "logits_output": LOGITS_NAME, "first_layer_bn_folded": True},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    save_weights(net, run_dir / WEIGHTS_FILE)
    export_onnx(net, run_dir / ONNX_FILE, metadata=onnx_metadata(record))
    write_curves(result.history, run_dir / CURVES_FILE, title=f"{spec.name} ({activation}, seed {seed})")
    record["wall_time_seconds"] = time.perf_counter() - started
    (run_dir / SPEC_FILE).write_text(json.dumps(record, indent=2) + "\n")
    (run_dir / MARKER_FILE).write_text(record["created"] + "\n")
    return record
