"""Child-process entry point: ``python -m submissions.run_job TASK.json``.

Started only by :func:`submissions.sandbox.run_in_sandbox`. Before importing
anything heavy it (1) asks the kernel to SIGKILL it when its parent dies, so a
killed worker leaves no orphan, and (2) caps its own address space with
``RLIMIT_AS``, so a graph that asks for a huge tensor gets an allocation error
instead of the machine. It then runs one task and writes
``{"kind": ..., ...}`` to the result file (atomically), which the parent reads.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's timeout still applies
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(3)


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
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, default=str))
    os.replace(tmp, path)


def _is_memory_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or any(s in text for s in ("bad_alloc", "failed to allocate", "out of memory"))


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    _die_with_parent(int(spec["parent_pid"]))
    _limit_memory(spec.get("memory_bytes"))
    result_path = Path(spec["result_path"])
    try:
        result = TASKS[spec["task"]](**spec["kwargs"])
    except BaseException as exc:  # noqa: BLE001 - every failure is reported to the parent
        from submissions.errors import SubmissionRejected

        if isinstance(exc, SubmissionRejected):
            payload = {"kind": "rejected", "code": exc.code, "message": exc.detail}
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
