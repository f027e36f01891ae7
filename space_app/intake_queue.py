"""Running submission checks off the request path.

Validating an upload ends with a sandboxed trial run that may take up to its
time limit (a minute by default). Run inside the click handler, it would hold
one of Gradio's request slots for that long and make other users' submits
wait. Instead the handler does the instant checks (fields, rate limit) and
hands the upload to a small pool of background threads; the click returns at
once with a ticket ("validating"), and the page's status timer asks
:meth:`IntakeTickets.result` until the outcome is there. The background job is
the very same :func:`submissions.intake.submit` (nothing is stored unless every
check passes), with its own store connection.
"""
from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

TICKET_PREFIX = "intake-"
#: Finished tickets remembered for the page to pick up (oldest forgotten first).
KEEP_DONE = 1000


class IntakeTickets:
    """A bounded pool of background intakes, each known by a ticket id.

    Parameters
    ----------
    workers : int
        Intakes validated at once (each trial is one sandboxed child process).
    """

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="intake")
        self._jobs: OrderedDict[str, tuple[str, Future]] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, submitter: str, fn: Callable[..., Any], *args: Any) -> str:
        """Queue ``fn(*args)`` for ``submitter``; returns the ticket id."""
        ticket = TICKET_PREFIX + uuid.uuid4().hex[:12]
        future = self._pool.submit(fn, *args)
        with self._lock:
            self._jobs[ticket] = (submitter, future)
            done = [t for t, (_, f) in self._jobs.items() if f.done()]
            for old in done[: max(0, len(done) - KEEP_DONE)]:
                self._jobs.pop(old, None)
        return ticket

    def result(self, ticket: str, timeout: float | None = 0) -> Any | None:
        """The outcome of ``ticket`` once its intake has finished, else None (unknown tickets: None)."""
        with self._lock:
            entry = self._jobs.get(ticket)
        if entry is None:
            return None
        try:
            return entry[1].result(timeout=timeout)
        except TimeoutError:
            return None

    def known(self, ticket: str) -> bool:
        with self._lock:
            return ticket in self._jobs

    def pending(self, submitter: str) -> int:
        """Intakes of ``submitter`` still running or waiting (they count toward the rate limit)."""
        with self._lock:
            return sum(1 for who, f in self._jobs.values() if who == submitter and not f.done())


def is_ticket(value: str | None) -> bool:
    return bool(value) and str(value).startswith(TICKET_PREFIX)


#: The app's pool (one per server process).
TICKETS = IntakeTickets()
