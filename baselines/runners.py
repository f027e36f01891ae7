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


class RayRunner:
    """One Ray task per cell.

    Parameters
    ----------
    address : str, optional
        Ray cluster address (``"auto"`` joins a running cluster); None starts a local one.
    num_cpus, num_gpus : float
        Resources each cell reserves (give ``num_gpus=1`` to pin one GPU per run).
    """

    def __init__(self, address: str | None = None, num_cpus: float = 1, num_gpus: float = 0) -> None:
        self.ray = import_ray()
        self.address, self.num_cpus, self.num_gpus = address, num_cpus, num_gpus

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        ray = self.ray
        if not ray.is_initialized():
            ray.init(address=self.address, ignore_reinit_error=True)
        remote = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=1)(fn)
        refs = [remote.remote(task) for task in tasks]
        for ref in refs:  # task order, like LocalRunner
            yield ray.get(ref)


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
