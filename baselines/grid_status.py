"""Where a long sweep stands: per grid row, how many runs are complete, running and left, and a time estimate.

`sweep_status` reads only the run folders (``COMPLETE`` markers, ``spec.json``'s
``train_seconds``) and the claim locks (`baselines.run_claim`), so it is safe
to call while sweep processes are working on the folder. The estimate of what
is left is each missing run's row median of the training time so far (else the
model's, else the whole sweep's): wall seconds on whatever machine and load the
finished runs had, with evaluation not counted.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from baselines.export import SPEC_FILE, read_spec_json
from baselines.run import is_complete
from baselines.run_claim import is_claimed

#: Columns of the status table, in order.
STATUS_COLUMNS: tuple[str, ...] = ("model", "activation", "planned", "complete", "running", "left",
                                   "seeds_complete", "train_hours", "left_hours")


def sweep_status(tasks: Sequence) -> pd.DataFrame:
    """One row per (model, activation) of a planned sweep.

    Parameters
    ----------
    tasks : sequence of RunTask
        The sweep's plan (:func:`baselines.sweep.plan_grid` or ``plan``), e.g. a preset's cells.

    Returns
    -------
    DataFrame, one row per (model, activation) in plan order, columns :data:`STATUS_COLUMNS`:
    runs planned / complete / running (claimed by a live sweep process) / left (neither), the complete
    seeds as text, hours of training the complete runs took, and the estimated hours the rest will take.
    """
    cells = []
    for task in tasks:
        run_dir = Path(task.run_dir)
        complete = is_complete(run_dir)
        seconds = _train_seconds(run_dir) if complete else np.nan
        cells.append({"model": task.model, "activation": task.activation, "seed": task.seed, "complete": complete,
                      "running": (not complete) and is_claimed(run_dir), "seconds": seconds})
    runs = pd.DataFrame(cells, columns=["model", "activation", "seed", "complete", "running", "seconds"])
    if runs.empty:
        return pd.DataFrame(columns=list(STATUS_COLUMNS))
    done = runs[runs["complete"]]
    by_row = done.groupby(["model", "activation"])["seconds"].median()
    by_model = done.groupby("model")["seconds"].median()
    overall = float(done["seconds"].median()) if not done.empty else np.nan

    def expected_seconds(model: str, activation: str) -> float:
        """The row's median so far, else the model's, else the sweep's (NaN when nothing is known)."""
        for value in (by_row.get((model, activation), np.nan), by_model.get(model, np.nan), overall):
            if not np.isnan(value):
                return float(value)
        return np.nan

    rows = []
    for (model, activation), group in runs.groupby(["model", "activation"], sort=False):
        complete = group[group["complete"]]
        missing = int((~group["complete"]).sum())
        rows.append({
            "model": model, "activation": activation, "planned": len(group), "complete": len(complete),
            "running": int(group["running"].sum()), "left": int((~group["complete"] & ~group["running"]).sum()),
            "seeds_complete": ",".join(str(s) for s in sorted(complete["seed"])) or "-",
            "train_hours": float(complete["seconds"].sum()) / 3600,
            "left_hours": missing * expected_seconds(model, activation) / 3600 if missing else 0.0,
        })
    return pd.DataFrame(rows, columns=list(STATUS_COLUMNS))


def _train_seconds(run_dir: Path) -> float:
    """``train_seconds`` of a complete run's spec.json; NaN when the record lacks it or cannot be read."""
    try:
        value = read_spec_json(run_dir / SPEC_FILE).get("train_seconds")
    except Exception:  # noqa: BLE001 - a damaged record leaves only this run's time unknown
        return np.nan
    return float(value) if isinstance(value, (int, float)) else np.nan


def format_status(status: pd.DataFrame) -> str:
    """The status table as aligned text plus a totals line (what ``motifbench sweep --status`` prints)."""
    if status.empty:
        return "no runs planned\n"
    shown = status.assign(train_hours=status["train_hours"].map("{:.2f}".format),
                          left_hours=status["left_hours"].map(lambda h: "?" if np.isnan(h) else f"{h:.2f}"))
    text = shown.to_string(index=False) + "\n"
    planned, complete, running = (int(status[c].sum()) for c in ("planned", "complete", "running"))
    left_hours = float(status["left_hours"].sum(min_count=1))
    estimate = "unknown (no finished run has a training time yet)" if np.isnan(left_hours) else \
        f"about {left_hours:.1f} h of training left at the pace so far (one process; N processes share it)"
    text += (f"{complete}/{planned} complete, {running} running, {planned - complete - running} waiting; "
             f"{status['train_hours'].sum():.1f} h of training done; {estimate}\n")
    return text
