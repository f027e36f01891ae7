"""Resumable grids of runs (models x activations x seeds) and their summary tables.

Each grid cell is a run folder ``OUT/<model>/<activation>/seed<k>``. A folder
with the ``COMPLETE`` marker is never retrained; one without it (an
interrupted run) is cleared and retrained from scratch. Cells are executed by a
runner (`baselines.runners`): sequential in this process by default, or Ray.
After the grid, every complete run is collected into ``runs.csv`` (one row per
run), ``summary.csv`` and ``summary.md`` (mean +/- sd per model x activation).
With ``evaluate=True`` every run's model.onnx also goes through
``evaluator.evaluate``, the same door as any outside submission; the
record it writes is reused on resume until it is stale (`stale_reason`).
Presets (`baselines.presets`, re-exported here) are named grids with their protocol and trials.
"""
from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from baselines.errors import BaselineError
from baselines.export import ONNX_FILE, SPEC_FILE, read_json_object, read_spec_json
from baselines.presets import PRESET_ALIASES, PRESETS, Preset, get_preset  # noqa: F401 (the sweep's API)
from baselines.protocols import Protocol
from baselines.run import is_complete, train_run
from baselines.run_claim import claim
from baselines.zoo import ACTIVATIONS, check_activation, check_seed, get_spec, model_names
from benchmark.files import atomic_write, file_sha256

log = logging.getLogger(__name__)

#: The evaluator writes its result record here (``evaluate(out_dir=run/evaluation)``); it doubles as the cache.
EVAL_FILE = "evaluation/result.json"
#: PPM methods every run is scored with (REFERENCE.md section 6): NMI (Koo & Ploenzke) and KE (Koo & Eddy).
PPM_METHODS: tuple[str, ...] = ("nmi", "ke")
#: A cell's status when another sweep process holds it (`baselines.run_claim`): left to that process.
BUSY = "busy"
#: One evaluator record per PPM method; the NMI one (with attribution) keeps the historical name.
EVAL_FILES: dict[str, str] = {"nmi": EVAL_FILE, "ke": "evaluation/result.ke.json"}

#: Motif-recovery numbers copied from an evaluator record into the sweep tables.
RECOVERY_KEYS: tuple[str, ...] = ("match_jaspar_fraction", "match_ground_truth_fraction", "coverage_count")
#: Attribution numbers (ISM against the ground-truth mask) copied from the NMI record.
ATTRIBUTION_KEYS: tuple[str, ...] = ("mean_auroc", "mean_aupr")


@dataclass(frozen=True)
class RunTask:
    """One grid cell: everything a worker needs to train it (plain data, picklable for Ray)."""

    model: str
    activation: str
    seed: int
    run_dir: str
    protocol: dict[str, Any]
    data_source: str | None = None
    config: str = "synthetic"
    revision: str | None = None
    limit: int | None = None
    device: str = "auto"
    amp: bool = True
    cpu_amp: bool = False
    threads: int | None = None
    evaluate: bool = False
    progress: bool = True


def run_dir_for(out_dir: Path | str, model: str, activation: str, seed: int) -> Path:
    """Where a grid cell lives inside a sweep folder."""
    return Path(out_dir) / model / activation / f"seed{seed}"


def plan(
    models: Sequence[str],
    activations: Sequence[str],
    seeds: Sequence[int],
    out_dir: Path | str,
    protocol: Protocol,
    **task_options: Any,
) -> list[RunTask]:
    """The grid as tasks, validated up front so a typo fails before hours of training."""
    if not models or not activations or not seeds:
        raise BaselineError("a sweep needs at least one model, one activation and one seed")
    names = list(dict.fromkeys(get_spec(m).name for m in models))  # a name given twice is one row
    activations = list(dict.fromkeys(activations))
    for a in activations:
        check_activation(a)
    seeds = list(dict.fromkeys(check_seed(s) for s in seeds))  # a seed named twice is one run
    return seed_major([
        RunTask(model=m, activation=a, seed=s, run_dir=str(run_dir_for(out_dir, m, a, s)),
                protocol=protocol.to_dict(), **task_options)
        for m in names for a in activations for s in seeds
    ])


def seed_major(tasks: list[RunTask]) -> list[RunTask]:
    """``tasks`` ordered by seed, stably: a partial sweep covers every row once before any row gets a second seed."""
    return sorted(tasks, key=lambda task: task.seed)


def plan_grid(
    cells: Sequence[tuple[Sequence[str], Sequence[str], Sequence[int]]],
    out_dir: Path | str,
    protocol: Protocol,
    **task_options: Any,
) -> list[RunTask]:
    """:func:`plan` over several (models, activations, seeds) cells (a preset's), one seed-major task list.

    cells : sequence of (models, activations, seeds), e.g. :meth:`baselines.presets.Preset.cells`.
    Returns the tasks of every cell, seed 0 of every row first, then seed 1, ...
    """
    return seed_major([task for m, a, s in cells for task in plan(m, a, s, out_dir, protocol, **task_options)])


_DATA_CACHE: dict[tuple, Any] = {}


def _data_for(task: RunTask):
    """Load a dataset once per process (a local sweep reuses it for every cell)."""
    from baselines.data import load_data

    key = (task.data_source, task.config, task.revision, task.limit)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()  # keep at most one dataset in memory
        _DATA_CACHE[key] = load_data(task.data_source, config=task.config, revision=task.revision, limit=task.limit)
    return _DATA_CACHE[key]


def check_same_protocol(run_dir: Path, protocol: Protocol) -> None:
    """Refuse to count a finished run trained under another protocol than the sweep asks for.

    Resuming skips finished runs; without this check a sweep rerun with another
    preset, protocol or flag into the same folder would report the old runs
    under the new settings.
    """
    record = read_spec_json(run_dir / SPEC_FILE)
    trained = Protocol.from_dict(record.get("protocol", {"name": "?"}))
    old, new = trained.training_fields(), protocol.training_fields()
    if old != new:
        changed = ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in new if old.get(k) != new.get(k))
        raise BaselineError(
            f"{run_dir} holds a finished run trained under protocol {trained.name} with other settings than this "
            f"sweep's {protocol.name} ({changed}); use another --out, or delete that run folder to retrain it"
        )


def check_same_data(run_dir: Path, source: dict[str, Any]) -> None:
    """Refuse to count a finished run trained on other data than the sweep's (other rows, split contents or limit).

    ``source`` is the sweep's dataset description (`baselines.data.DataBundle.source`); the run's is in its
    spec.json. Resuming into a folder with another --data or --limit would otherwise report the old runs,
    and a table would average runs on different data in one row.
    """
    trained = read_spec_json(run_dir / SPEC_FILE).get("dataset") or {}
    keys = ("config", "limit", "splits_content_sha256")
    changed = [key for key in keys if trained.get(key) != source.get(key)]
    if changed:
        shown = ", ".join(f"{k} {trained.get(k)!r} -> {source.get(k)!r}" if k != "splits_content_sha256"
                          else "split contents (content hashes) differ" for k in changed)
        raise BaselineError(f"{run_dir} holds a finished run trained on other data than this sweep's ({shown}); "
                            "use another --out, or delete that run folder to retrain it")


def check_same_precision(run_dir: Path, cpu_amp: bool) -> None:
    """Refuse to count a finished CPU run trained in the other precision than ``cpu_amp`` asks for.

    ``--cpu-amp`` (bfloat16 autocast) trains other numbers than the float32
    default; a resumed sweep must not mix the two under one table.
    """
    record = read_spec_json(run_dir / SPEC_FILE)
    if record.get("device") != "cpu":
        return
    trained_bf16 = record.get("amp", {}).get("dtype") == "bfloat16"
    if trained_bf16 != cpu_amp:
        had, asked = ("bfloat16 (--cpu-amp)", "float32") if trained_bf16 else ("float32", "bfloat16 (--cpu-amp)")
        raise BaselineError(
            f"{run_dir} holds a finished CPU run trained in {had}, and this sweep asks for {asked}; "
            "use another --out, or delete that run folder to retrain it"
        )


def execute(task: RunTask) -> dict[str, Any]:
    """Run one cell (a no-op for a complete folder) and, if asked, evaluate it. Returns a table row.

    The cell is claimed first (`baselines.run_claim`): if another sweep process is training or scoring it,
    nothing is done and the row has status ``busy`` (no metrics).
    """
    with claim(task.run_dir) as mine:
        if not mine:
            log.info("skip %s (another sweep process is working on it)", task.run_dir)
            return {"model": task.model, "activation": task.activation, "seed": task.seed, "status": BUSY,
                    "run_dir": task.run_dir, "test_auroc": float("nan"), "test_aupr": float("nan"),
                    "evaluation": None, "evaluations": {}, "worker": f"{socket.gethostname()}:{os.getpid()}"}
        return _execute_claimed(task)


def _execute_claimed(task: RunTask) -> dict[str, Any]:
    run_dir = Path(task.run_dir)
    protocol = Protocol.from_dict(task.protocol)
    if is_complete(run_dir):
        check_same_protocol(run_dir, protocol)
        check_same_precision(run_dir, task.cpu_amp)
        check_same_data(run_dir, _data_for(task).source)
        log.info("skip %s (complete)", run_dir)
        status = "skipped"
    else:
        train_run(
            task.model, activation=task.activation, seed=task.seed, protocol=protocol,
            out_dir=run_dir, data=_data_for(task), device=task.device, amp=task.amp, cpu_amp=task.cpu_amp,
            threads=task.threads,
            progress=task.progress, overwrite=False,
        )
        status = "trained"
    evaluations = {}
    if task.evaluate:
        for method in PPM_METHODS:
            evaluations[method] = evaluate_run(run_dir, data_source=task.data_source, config=task.config,
                                               method=method).status
    row = run_row(run_dir)
    row["status"] = status
    row["evaluation"] = evaluations.get("nmi")
    row["evaluations"] = evaluations
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"  # where it ran (a Ray node, or this process)
    return row


def evaluator_function() -> Callable[..., dict]:
    """:func:`evaluator.evaluate`, returning the record dict (imported when first needed: the evaluator is
    another part)."""
    from evaluator import evaluate

    def evaluate_record(model, **kwargs) -> dict:
        return evaluate(model, **kwargs).to_record()

    return evaluate_record


def eval_params(method: str = "nmi") -> Any:
    """The evaluator's `EvalParams` for one PPM method: the papers' defaults with that method;
    attribution (ISM, independent of the PPM method) only in the NMI record."""
    from evaluator.params import EvalParams

    if method not in PPM_METHODS:
        raise BaselineError(f"unknown PPM method {method!r}; expected one of {', '.join(PPM_METHODS)}")
    return EvalParams(ppm_method=method, attribution=method == "nmi")


def current_evaluator_settings(method: str = "nmi") -> tuple[str, dict[str, Any]]:
    """(evaluator version, evaluation parameters for ``method`` as the record stores them)."""
    from evaluator import EVALUATOR_VERSION

    return EVALUATOR_VERSION, json.loads(json.dumps(eval_params(method).as_dict()))


def _major(version: Any) -> str:
    return str(version).split(".", 1)[0]


def stale_reason(record: dict[str, Any], run_dir: Path, config: str, settings: tuple[str, dict[str, Any]]) -> str | None:
    """Why a cached evaluator record no longer describes this run under the current evaluator, or None.

    Stale when the evaluator's major version differs (numbers changed meaning),
    the evaluation parameters differ from the current defaults, the record is
    for another dataset config, or the run's model.onnx is not the file that
    was scored (re-exported since).
    """
    version, params = settings
    cached_version = record.get("evaluator_version")
    if cached_version is None or _major(cached_version) != _major(version):
        return f"evaluator version {cached_version} -> {version}"
    cached_params = (record.get("parameters") or {}).get("eval")
    if cached_params != params:
        keys = sorted(set(params) | set(cached_params or {}))
        changed = [k for k in keys if (cached_params or {}).get(k, "<absent>") != params.get(k, "<absent>")]
        return f"evaluation parameters changed ({', '.join(changed)})"
    cached_config = (record.get("dataset") or {}).get("config")
    if cached_config is not None and cached_config != config:
        return f"dataset config {cached_config} -> {config}"
    cached_sha = (record.get("model") or {}).get("onnx_sha256")
    onnx_path = run_dir / ONNX_FILE
    if cached_sha and onnx_path.is_file() and cached_sha != file_sha256(onnx_path):
        return "model.onnx changed since it was scored"
    return None


@dataclass(frozen=True)
class Evaluation:
    """The evaluator record of a run (None if there is none) and how it was obtained:
    ``reused`` (cached, still current), ``evaluated`` (no cache), ``re-evaluated``
    (the cache was stale)."""

    record: dict[str, Any] | None
    status: str


def evaluate_run(run_dir: Path, *, data_source: str | None, config: str, method: str = "nmi") -> Evaluation:
    """Score a run's ONNX through the evaluator with one PPM method; ``EVAL_FILES[method]`` is the
    cache, reused only while `stale_reason` finds nothing against the current evaluator."""
    cached = run_dir / EVAL_FILES[method]
    record = None
    if cached.is_file():
        try:
            record = read_json_object(cached)
        except BaselineError as exc:  # a damaged cache is stale: score the run again
            log.warning("re-evaluating %s: %s", run_dir, exc)
            cached.unlink()
    settings = current_evaluator_settings(method)
    evaluate = evaluator_function()
    status = "evaluated"
    if record is not None:
        reason = stale_reason(record, run_dir, config, settings)
        if reason is None:
            return Evaluation(record, "reused")
        log.info("re-evaluating %s: %s", run_dir, reason)
        status = "re-evaluated"
    fresh = evaluate(run_dir / ONNX_FILE, data=data_source, config=config, split="test", params=eval_params(method),
                     out_dir=cached.parent, progress=False, record_name=cached.name)
    record = fresh.to_record() if hasattr(fresh, "to_record") else fresh  # EvaluationResult or a plain record
    return Evaluation(record, status)


def _find_key(obj: Any, key: str) -> Any:
    """First value stored under ``key`` anywhere in a nested dict/list (record layouts may nest)."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        children = obj.values()
    elif isinstance(obj, list):
        children = obj
    else:
        return None
    for child in children:
        found = _find_key(child, key)
        if found is not None:
            return found
    return None


def run_row(run_dir: Path | str) -> dict[str, Any]:
    """One table row from a complete run folder (spec.json, plus the evaluator record when present)."""
    run_dir = Path(run_dir)
    record = read_spec_json(run_dir / SPEC_FILE)
    row: dict[str, Any] = {
        "model": record["zoo_name"],
        "activation": record["activation"],
        "seed": record["seed"],
        "test_auroc": record["test"]["auroc"],
        "test_aupr": record["test"]["aupr"],
        "best_epoch": record["best_epoch"],
        "epochs_run": record["epochs_run"],
        "train_seconds": record["train_seconds"],
        "parameters": record["parameters"]["trainable"],
        "protocol": record.get("protocol", {}).get("name"),
        "run_dir": str(run_dir),
    }
    for method in PPM_METHODS:
        evaluation = run_dir / EVAL_FILES[method]
        if not evaluation.is_file():
            continue
        ev = read_json_object(evaluation)
        suffix = "" if method == "nmi" else f"_{method}"
        for key in RECOVERY_KEYS:
            value = _find_key(ev, key)
            if isinstance(value, (int, float)):
                row[key + suffix] = value
        attribution = (ev.get("results") or {}).get("attribution") or {}
        for key in ATTRIBUTION_KEYS:
            if isinstance(attribution.get(key), (int, float)):
                row[f"ism_{key.removeprefix('mean_')}"] = attribution[key]
    return row


def collect(out_dir: Path | str) -> pd.DataFrame:
    """Rows for every complete run under a sweep folder (unfinished ones are ignored)."""
    rows = [run_row(marker.parent) for marker in sorted(Path(out_dir).glob(f"**/{SPEC_FILE}")) if is_complete(marker.parent)]
    return pd.DataFrame(rows)


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd (ddof=1) and n per model x activation for every metric column."""
    if runs.empty:
        return pd.DataFrame()
    extra = [k + sfx for sfx in ("", "_ke") for k in RECOVERY_KEYS] + ["ism_auroc", "ism_aupr"]
    metrics = ["test_auroc", "test_aupr", *[k for k in extra if k in runs]]
    names, acts = model_names(), list(ACTIVATIONS)
    runs = runs.assign(_m=runs["model"].map(lambda m: names.index(m) if m in names else len(names)),
                       _a=runs["activation"].map(lambda a: acts.index(a) if a in acts else len(acts)))
    runs = runs.sort_values(["_m", "_a", "seed"], kind="stable")
    grouped = runs.groupby(["model", "activation"], sort=False)
    table = grouped[metrics].agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    table.insert(0, "n_runs", grouped.size())
    return table.reset_index()


def to_markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table of ``mean +/- sd`` cells."""
    if summary.empty:
        return "_no complete runs yet_\n"
    metrics = [c.removesuffix("_mean") for c in summary.columns if c.endswith("_mean")]
    header = ["model", "activation", "n", *metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in summary.iterrows():
        cells = [str(r["model"]), str(r["activation"]), str(int(r["n_runs"]))]
        for m in metrics:
            mean, sd = r[f"{m}_mean"], r[f"{m}_std"]
            cells.append("n/a" if pd.isna(mean) else f"{mean:.3f}" if pd.isna(sd) else f"{mean:.3f} ± {sd:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_tables(out_dir: Path | str) -> dict[str, Path]:
    """(Re)write runs.csv, summary.csv and summary.md from the complete runs in ``out_dir``."""
    out_dir = Path(out_dir)
    runs = collect(out_dir)
    summary = summarize(runs)
    paths = {"runs": out_dir / "runs.csv", "summary": out_dir / "summary.csv", "markdown": out_dir / "summary.md"}
    # atomic: several sweep processes may share the folder, and a reader must never see half a table
    atomic_write(paths["runs"], runs.to_csv(index=False))
    atomic_write(paths["summary"], summary.to_csv(index=False))
    atomic_write(paths["markdown"], to_markdown(summary))
    return paths


@dataclass(frozen=True)
class SweepResult:
    rows: list[dict[str, Any]]
    tables: dict[str, Path]
    evaluated: bool

    @property
    def counts(self) -> dict[str, int]:
        statuses = [r.get("status") for r in self.rows]
        return {s: statuses.count(s) for s in ("trained", "skipped", BUSY)}

    @property
    def evaluation_counts(self) -> dict[str, int]:
        """How many evaluator records (one per run and PPM method) were evaluated, re-evaluated
        (stale cache) or reused."""
        statuses = [s for r in self.rows for s in (r.get("evaluations") or {}).values() if s]
        return {s: statuses.count(s) for s in ("evaluated", "re-evaluated", "reused")}


def sweep(tasks: list[RunTask], out_dir: Path | str, runner: Any | None = None,
          on_row: Callable[[dict[str, Any]], None] | None = None) -> SweepResult:
    """Run every task through ``runner`` (default: local, sequential) and write the tables.

    ``on_row`` is called with each finished cell's row as it streams back. The
    tables are written even when some cells fail (the runner's error is then
    raised after them), so finished runs are always summarised.
    """
    from baselines.runners import LocalRunner

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "sweep.json", json.dumps([asdict(t) for t in tasks], indent=2) + "\n")
    runner = runner or LocalRunner()
    rows: list[dict[str, Any]] = []
    try:
        for row in runner.map(execute, tasks):
            rows.append(row)
            if on_row is not None:
                on_row(row)
        # cells another process held are tried once more at the end: a holder that only skipped or scored
        # them has let go by now; one still training keeps them (status busy in the final rows)
        busy = {row["run_dir"]: i for i, row in enumerate(rows) if row.get("status") == BUSY}
        if busy:
            for row in runner.map(execute, [t for t in tasks if t.run_dir in busy]):
                rows[busy[row["run_dir"]]] = row
                if on_row is not None and row.get("status") != BUSY:
                    on_row(row)
    finally:
        tables = write_tables(out_dir)
    return SweepResult(rows=rows, tables=tables, evaluated=any(t.evaluate for t in tasks))
