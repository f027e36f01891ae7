"""Child-process side of the sandbox: ``python -m submissions.run_job TASK.json``, or :func:`forked_main`.

Started only by :func:`submissions.sandbox.run_in_sandbox`, either as a fresh
interpreter (``launcher="spawn"``) or forked from a warm server that already
imported the evaluator (``launcher="forkserver"``, :func:`forked_main`). Before
running anything it (1) makes sure it dies with the worker: the kernel SIGKILLs
it when its parent dies (``PR_SET_PDEATHSIG``; a forkserver exits when its
worker does) and a watchdog thread checks the worker's pid, so a killed
worker leaves no orphan evaluation; (2) caps its own address space with
``RLIMIT_AS``, so a graph that asks for a huge tensor gets an allocation error
instead of the machine. It then runs one task and writes ``{"kind": ..., ...}``
to the result file (atomically), which the parent reads.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from benchmark.files import atomic_write

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's timeout still applies
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(3)


def _watch_worker(worker_pid: int, interval: float = 0.5) -> None:
    """Exit at once when the worker process is gone or a zombie (belt to PDEATHSIG's braces)."""

    def gone() -> bool:
        try:
            state = Path(f"/proc/{worker_pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            return state in ("Z", "X")
        except (OSError, IndexError):
            try:
                os.kill(worker_pid, 0)
                return False
            except ProcessLookupError:
                return True
            except PermissionError:
                return False

    def loop() -> None:
        while True:
            if gone():
                os._exit(3)
            time.sleep(interval)

    threading.Thread(target=loop, name="worker-watchdog", daemon=True).start()


def _limit_memory(memory_bytes: int | None) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def _task_trial(**kwargs: Any) -> Any:
    from submissions.trial import run_trial

    return run_trial(**kwargs)


def _task_evaluate(**kwargs: Any) -> Any:
    from submissions.evaluation import evaluate_submission

    return evaluate_submission(**kwargs)


TASKS = {"trial": _task_trial, "evaluate": _task_evaluate}


def _write(path: Path, payload: dict[str, Any]) -> None:
    """The result file for the parent; a full disk ends the child with exit code 75 (the parent retries the job)."""
    try:
        atomic_write(path, json.dumps(payload, default=str))
    except OSError:
        print(f"motifbench: cannot write the result: {sys.exc_info()[1]}", flush=True)
        os._exit(75)


def _is_memory_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or any(s in text for s in ("bad_alloc", "failed to allocate", "out of memory"))


def main(argv: list[str]) -> int:
    """Entry of a spawned child: ``argv[0]`` is the task file."""
    spec = json.loads(Path(argv[0]).read_text())
    _die_with_parent(int(spec["parent_pid"]))
    _limit_memory(spec.get("memory_bytes"))
    return _run(spec)


def forked_main(task_file: str, worker_pid: int, log_file: str, env: dict[str, str] | None = None) -> None:
    """Entry of a child forked from the warm server (its parent is the server, not the worker)."""
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    spec = json.loads(Path(task_file).read_text())
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    _die_with_parent(os.getppid())
    _watch_worker(worker_pid)
    _limit_memory(spec.get("memory_bytes"))
    code = _run(spec)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run(spec: dict[str, Any]) -> int:
    result_path = Path(spec["result_path"])
    try:
        result = TASKS[spec["task"]](**spec["kwargs"])
    except BaseException as exc:  # noqa: BLE001 - every failure is reported to the parent
        from submissions.errors import SubmissionRejected
        from submissions.infra import is_infrastructure_fault

        if isinstance(exc, SubmissionRejected):
            payload = {"kind": "rejected", "code": exc.code, "message": exc.detail}
        elif is_infrastructure_fault(exc):  # the server's disk, not the model: the job is retried
            payload = {"kind": "infrastructure", "message": f"{type(exc).__name__}: {exc}"[:500]}
        elif _is_memory_error(exc):
            payload = {"kind": "out_of_memory", "message": str(exc)[:500] or "MemoryError"}
        else:
            traceback.print_exc()
            message = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            payload = {"kind": "error", "message": message[:1000]}
        _write(result_path, payload)
        return 1
    _write(result_path, {"kind": "ok", "result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
