"""The Queue tab: what is running and waiting, then the most recent finished and failed jobs.

An empty queue is the common case, so the tab also lists the latest
outcomes (newest first): a submitter sees that their model finished, or why
it failed, without searching the leaderboard.
"""
from __future__ import annotations

import pandas as pd

from space_app.safe_text import cell
from submissions.store import FAILED, FINISHED, PENDING, RUNNING, Store, iso

QUEUE_COLUMNS = ["ID", "Model", "Submitter", "Dataset", "State", "Attempts", "Submitted", "Started", "Finished",
                 "Reason"]
SHOWN_STATES = (RUNNING, PENDING, FINISHED, FAILED)
#: Finished and failed jobs listed after the live ones (newest first).
RECENT = 20


def _time(ts: float | None) -> str:
    return (iso(ts) or "").replace("+00:00", "Z")


def queue_table(store: Store, limit: int = 500, recent: int = RECENT) -> pd.DataFrame:
    """RUNNING first, then PENDING in queue order, then the ``recent`` latest FINISHED/FAILED, newest first.

    Returns a DataFrame with :data:`QUEUE_COLUMNS`, at most ``limit`` rows.
    """
    live = store.list([RUNNING, PENDING])
    live.sort(key=lambda s: (s.state != RUNNING, s.created_at))
    done = store.list([FINISHED, FAILED])
    done.sort(key=lambda s: -(s.finished_at or s.created_at or 0))
    rows = [
        [cell(v) for v in (s.id, s.model_name, s.submitter, f"{s.dataset_config} v{s.dataset_version.lstrip('v')}",
                           s.state, s.attempts, _time(s.created_at), _time(s.started_at), _time(s.finished_at),
                           s.reason or "")]
        for s in (live + done[:recent])[:limit]
    ]
    return pd.DataFrame(rows, columns=QUEUE_COLUMNS)


def queue_summary(store: Store) -> str:
    """``3 pending · 1 running · 12 finished · 2 failed`` and what the table below lists."""
    counts = store.counts()
    line = " · ".join(f"{counts[s]} {s.lower()}" for s in (PENDING, RUNNING, FINISHED, FAILED))
    return f"{line}. Running and pending jobs first, then the {RECENT} most recent finished or failed."
