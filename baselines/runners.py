"""Where sweep cells execute: the runner seam.

A runner is anything with ``map(fn, tasks) -> iterable of results`` where
``fn`` is a picklable top-level function and ``tasks`` plain dataclasses.
`LocalRunner` runs them one after another in this process (the default: no
extra dependency); `RayRunner` fans them out over a Ray cluster, one task per
worker slot, so a sweep can use many machines. Every cell is resumable on its
own (run-folder marker), so a runner may retry or be restarted freely; the run
folders must sit on storage every worker can reach.
"""
from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from baselines.errors import BaselineError

T = TypeVar("T")
R = TypeVar("R")

RUNNERS: tuple[str, ...] = ("local", "ray")


class Runner(Protocol):
    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterable[R]: ...


class LocalRunner:
    """Sequential, in-process: results stream back in task order."""

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        for task in tasks:
            yield fn(task)


class RunFailed(BaselineError):
    """Some cells failed even after their retries; the others finished (and were written)."""


#: Seconds to wait for a Ray cluster's port to accept a connection before calling it unreachable.
RAY_CONNECT_SECONDS = 10.0


def check_ray_address(address: str, timeout: float = RAY_CONNECT_SECONDS) -> None:
    """Raise a clear BaselineError unless ``address`` names a reachable Ray port (``auto`` is Ray's to resolve).

    ``ray.init(address=...)`` retries an unreachable cluster for minutes with only log lines to show for
    it; one TCP connection says at once whether anything listens there.

    Parameters
    ----------
    address : str
        ``HOST:PORT`` (the head's GCS port, 6379 by default), ``ray://HOST:PORT`` (Ray Client,
        10001 by default) or ``auto``.
    """
    if address == "auto":
        return
    target = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = target.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit():
        raise BaselineError(f"Ray address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BaselineError(f"no Ray cluster answers at {address} ({reason}); start one there with `ray start "
                            "--head`, or leave out the address to start a local Ray") from None


#: How often a local Ray start is tried: Ray waits a fixed 30 s for its raylet to register (not
#: configurable), which a busy machine can miss once; a second start after a clean shutdown usually
#: makes it.
LOCAL_RAY_STARTS = 2


def start_local_ray(ray: Any, **init_kwargs: Any) -> None:
    """``ray.init(**init_kwargs)`` for a local Ray, started again once if its raylet was too slow to register.

    Any other failure, or a second timeout, is raised as Ray raised it.
    """
    for attempt in range(1, LOCAL_RAY_STARTS + 1):
        try:
            ray.init(**init_kwargs)
            return
        except Exception as exc:  # Ray raises a bare Exception for this one
            if "timed out during startup" not in str(exc) or attempt == LOCAL_RAY_STARTS:
                raise
            ray.shutdown()  # stop what did start (GCS, raylet) before the next try


class RayRunner:
    """One Ray task per cell, each with its own CPU/GPU request.

    Results stream back as runs finish (completion order); workers' stdout and
    stderr (tqdm bars, logs) are forwarded to this process by Ray. A task that
    raises or whose worker dies is retried up to ``max_retries`` times: a cell
    is resumable on its own (an unfinished run folder is cleared and retrained),
    so a retry starts that run cleanly. Cells that still fail are reported
    together at the end, after every other cell has finished.

    Parameters
    ----------
    address : str, optional
        Ray cluster address (``"auto"`` joins the cluster this machine belongs
        to, ``"ray://HEAD:10001"`` a remote one); None starts a local Ray.
    num_cpus, num_gpus : float
        Resources each cell reserves (``num_gpus=1`` pins one GPU per run).
    cluster_cpus : int, optional
        CPUs of the local Ray started when ``address`` is None (default: all).
    max_retries : int
        Extra attempts per cell after a failure (exceptions and worker crashes).
    """

    def __init__(self, address: str | None = None, num_cpus: float = 1, num_gpus: float = 0,
                 cluster_cpus: int | None = None, max_retries: int = 2) -> None:
        if not num_cpus > 0:  # Ray would run every cell at once: a CPU request of 0 limits nothing
            raise BaselineError(f"CPUs per run must be more than 0, got {num_cpus}")
        if not num_gpus >= 0:
            raise BaselineError(f"GPUs per run must be 0 or more, got {num_gpus}")
        if cluster_cpus is not None and cluster_cpus < 1:
            raise BaselineError(f"the local Ray needs at least 1 CPU, got {cluster_cpus}")
        if max_retries < 0:
            raise BaselineError(f"retries per cell must be 0 or more, got {max_retries}")
        self.ray = import_ray()
        self.address, self.num_cpus, self.num_gpus = address, num_cpus, num_gpus
        self.cluster_cpus, self.max_retries = cluster_cpus, max_retries
        self.started_here = False

    def connect(self) -> None:
        """``ray.init`` once: join ``address``, or start a local Ray with ``cluster_cpus`` CPUs."""
        ray = self.ray
        if ray.is_initialized():
            return
        if self.address:
            check_ray_address(self.address)
            try:
                ray.init(address=self.address, log_to_driver=True)
            except ConnectionError as exc:  # e.g. "auto" with no cluster on this machine
                raise BaselineError(f"cannot join the Ray cluster at {self.address}: {exc}") from None
        else:
            start_local_ray(ray, num_cpus=self.cluster_cpus, include_dashboard=False, log_to_driver=True)
        self.started_here = True

    def shutdown(self) -> None:
        """Stop the local Ray this runner started (a joined cluster is only disconnected)."""
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()
        self.started_here = False

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        ray = self.ray
        self.connect()
        remote = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=self.max_retries,
                            retry_exceptions=True)(fn)
        pending = {remote.remote(task): task for task in tasks}
        failures: list[tuple[Any, BaseException]] = []
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as exc:  # RayTaskError (after retries) or a lost worker
                    failures.append((task, exc))
        if failures:
            lines = "\n".join(f"- {getattr(t, 'run_dir', t)}: {_last_line(exc)}" for t, exc in failures)
            raise RunFailed(f"{len(failures)} of {len(tasks)} run(s) failed after {self.max_retries} "
                            f"retries (rerun the same command to resume):\n{lines}")


def _last_line(exc: BaseException) -> str:
    """The final line of a (remote) traceback: the error itself."""
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def import_ray() -> Any:
    """Import Ray lazily, with the install hint when it is missing."""
    try:
        import ray
    except ImportError:
        raise BaselineError(
            "the Ray runner needs Ray, which is not installed: pip install 'motifbench[ray]'"
        ) from None
    return ray


def get_runner(name: str, **options: Any) -> Runner:
    """A runner by name: ``local`` or ``ray`` (options go to `RayRunner`)."""
    if name == "local":
        return LocalRunner()
    if name == "ray":
        return RayRunner(**options)
    raise BaselineError(f"unknown runner {name!r}; expected one of {', '.join(RUNNERS)}")
