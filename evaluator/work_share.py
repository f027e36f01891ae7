"""Blocks of background work that a waiting thread can help finish.

The recovery bootstrap runs its Tomtom queries in a background thread beside
the main thread's stages. When the main thread is done with its own work it
would otherwise sleep until the bootstrap finishes; with a :class:`WorkShare`
it takes the blocks nobody has started yet, so the two cores share the rest.
Each block's result is stored at its own index, so the outcome does not
depend on which thread computed which block (same numbers as one thread).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


class _Blocks:
    """``fn`` over consecutive blocks of ``items``, taken one at a time by whichever thread asks."""

    def __init__(self, items: Sequence[Any], fn: Callable[[Sequence[Any]], Any], block: int):
        self._items, self._fn, self._block = items, fn, max(1, int(block))
        self.n_blocks = -(-len(items) // self._block)
        self.results: list[Any] = [None] * self.n_blocks
        self._next = 0
        self._finished = 0
        self._error: BaseException | None = None
        self._cond = threading.Condition()

    def work(self) -> None:
        """Compute blocks until none is left to start."""
        while True:
            with self._cond:
                if self._next >= self.n_blocks or self._error is not None:
                    return
                i = self._next
                self._next += 1
            try:
                out = self._fn(self._items[i * self._block:(i + 1) * self._block])
            except BaseException as exc:  # handed to whoever waits
                with self._cond:
                    self._error = exc
                    self._finished += 1
                    self._cond.notify_all()
                return
            with self._cond:
                self.results[i] = out
                self._finished += 1
                self._cond.notify_all()

    def wait(self) -> list[Any]:
        """Every block's result in order, once each started block has finished; re-raises a block's error."""
        with self._cond:
            self._cond.wait_for(lambda: self._finished >= self._next
                                and (self._next >= self.n_blocks or self._error is not None))
            if self._error is not None:
                raise self._error
            return self.results


class WorkShare:
    """A meeting point between a background job and the thread that will wait for it.

    The job calls :meth:`map_blocks` for its divisible work; the waiting thread
    calls :meth:`help` before it blocks on the job's result.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: _Blocks | None = None

    def map_blocks(self, items: Sequence[Any], fn: Callable[[Sequence[Any]], Any], block: int) -> list[Any]:
        """``[fn(items[0:block]), fn(items[block:2 * block]), ...]``, computed by this thread and any helper."""
        blocks = _Blocks(items, fn, block)
        with self._lock:
            self._current = blocks
        try:
            blocks.work()
            return blocks.wait()
        finally:
            with self._lock:
                self._current = None

    def help(self) -> None:
        """Take blocks of the job's current :meth:`map_blocks` until none is left to start (no-op if none runs)."""
        with self._lock:
            blocks = self._current
        if blocks is not None:
            blocks.work()


class HelpedFuture:
    """A future whose :meth:`result` first helps the job through its :class:`WorkShare`, then waits for it."""

    def __init__(self, future, share: WorkShare):
        self._future, self._share = future, share

    def result(self, timeout: float | None = None):
        self._share.help()
        return self._future.result(timeout)

    def done(self) -> bool:
        return self._future.done()
