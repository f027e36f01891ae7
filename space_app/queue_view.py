"""The Queue tab: submissions waiting, running or failed, with the reason of each failure."""
from __future__ import annotations

import pandas as pd

from space_app.safe_text import cell
from submissions.store import FAILED, PENDING, RUNNING, Store, iso

QUEUE_COLUMNS = ["ID", "Model", "Submitter", "Dataset", "State", "Attempts", "Submitted", "Started", "Reason"]
SHOWN_STATES = (RUNNING, PENDING, FAILED)


def queue_table(store: Store, limit: int = 500) -> pd.DataFrame:
    """RUNNING first, then PENDING in queue order, then FAILED newest first (at most ``limit`` rows)."""
    subs = store.list([RUNNING, PENDING, FAILED])
    order = {RUNNING: 0, PENDING: 1, FAILED: 2}
    subs.sort(key=lambda s: (order[s.state], -(s.finished_at or 0) if s.state == FAILED else s.created_at))
    rows = [
        [cell(v) for v in (s.id, s.model_name, s.submitter, f"{s.dataset_config} v{s.dataset_version.lstrip('v')}",
                           s.state, s.attempts, (iso(s.created_at) or "").replace("+00:00", "Z"),
                           (iso(s.started_at) or "").replace("+00:00", "Z"), s.reason or "")]
        for s in subs[:limit]
    ]
    return pd.DataFrame(rows, columns=QUEUE_COLUMNS)


def queue_summary(store: Store) -> str:
    """``3 pending · 1 running · 12 finished · 2 failed``."""
    counts = store.counts()
    return " · ".join(f"{counts[s]} {s.lower()}" for s in (PENDING, RUNNING, "FINISHED", FAILED))
