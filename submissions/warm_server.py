"""A warm fork server: import the evaluator once, then fork one child per task.

A fresh interpreter spends 2-3 s importing ONNX Runtime, scikit-learn, SciPy
and the evaluator before scoring a small model in about one second, so a
worker forks each evaluation from this server instead. The server is started
by :class:`WarmServer` (``python -m submissions.warm_server``) and speaks JSON
lines: on stdin ``{"task_file", "log_file", "worker_pid", "env"}``; on stdout
``{"ready": true}`` once, then ``{"pid": N}`` per fork and
``{"exit": N, "returncode": R}`` when child N ends (R < 0: killed by signal -R).

The server exits when its stdin closes (its worker died or closed it); each
child is SIGKILLed by the kernel when the server exits (``PR_SET_PDEATHSIG``,
set in :func:`submissions.run_job.forked_main`) and watches the worker's pid
itself, so nothing outlives the worker. It is not a multiprocessing
forkserver on purpose: that one re-imports the caller's ``__main__`` in every
child.
"""
from __future__ import annotations

import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

#: Seconds a new server may take to import its profile before it counts as failed to start.
_START_SECONDS = 120.0

#: Modules each kind of server imports once, so forked tasks start with them loaded.
WARM_PROFILES: dict[str, tuple[str, ...]] = {
    "trial": ("submissions.run_job", "submissions.trial", "onnx", "onnxruntime", "evaluator.onnx_model"),
    "evaluate": (
        "submissions.run_job",
        "submissions.evaluation",
        "onnx",
        "onnxruntime",
        "evaluator.onnx_model",
        "evaluator.pipeline",
        "evaluator.classification",
        "evaluator.ppm",
        "evaluator.tomtom",
        "evaluator.recovery",
        "evaluator.attribution",
        "evaluator.logos",
        "benchmark.loader",
        "benchmark.motifs",
    ),
}


def _warm_reference_data() -> None:
    """Load the JASPAR matrices every evaluation reads into the (cached) motif tables.

    The cached tuples are plain NumPy data and safe to share with forked
    children; pyjaspar's SQLite connection is not (SQLite forbids carrying a
    connection across fork), so its cache is dropped again before any fork and
    a child that needs the database opens its own.
    """
    try:
        from benchmark import jaspar
        from benchmark.motifs import load_motif_set

        from evaluator.tomtom import jaspar_targets

        jaspar.core_vertebrates(jaspar.DEFAULT_RELEASE)
        targets = jaspar_targets(jaspar.DEFAULT_RELEASE)  # parsed once here, shared by every forked job
        from evaluator.tomtom import prepare_targets
        from evaluator.tomtom_jit_cache import ready
        from evaluator.tomtom_warm_up import warm_up

        prepare_targets(targets)  # Tomtom's target side, computed once for every job
        if ready():
            warm_up()  # load the compiled Tomtom kernels from numba's cache before forking
        load_motif_set()
        jaspar.close_connections()
    except Exception:  # warming is an optimisation only
        pass


def _send(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def _fork_task(request: dict[str, Any], wake_fds: tuple[int, int]) -> int:
    pid = os.fork()
    if pid == 0:  # the task child: no server pipes (stdout is redirected by forked_main)
        try:
            os.setsid()  # its own process group, so one killpg reaches anything it starts
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)
            for fd in wake_fds:
                os.close(fd)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            from submissions.run_job import forked_main

            forked_main(request["task_file"], int(request["worker_pid"]), request["log_file"], request.get("env"))
        finally:
            os._exit(70)
    return pid


def serve(profile: str) -> int:
    """The server loop (runs in the server process)."""
    for name in WARM_PROFILES[profile]:
        importlib.import_module(name)
    if profile == "evaluate":
        _warm_reference_data()
    out = sys.stdout
    stdin_fd = sys.stdin.fileno()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd fires
    _send(out, {"ready": True})
    buffer = b""
    while True:
        ready, _, _ = select.select([stdin_fd, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
        while True:  # reap every finished child
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            _send(out, {"exit": pid, "returncode": os.waitstatus_to_exitcode(status)})
        if stdin_fd in ready:
            chunk = os.read(stdin_fd, 65536)
            if not chunk:
                return 0  # the worker is gone: exit, and PDEATHSIG takes our children with us
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    pid = _fork_task(json.loads(line), (wake_r, wake_w))
                    _send(out, {"pid": pid})


class WarmServer:
    """The worker-side handle of one fork server. Callers hold :attr:`lock` for a whole task.

    Parameters
    ----------
    env : dict
        Environment of the server (its children inherit it).
    profile : str
        Which modules to preload (:data:`WARM_PROFILES`).
    """

    def __init__(self, env: dict[str, str], profile: str = "evaluate", *,
                 while_starting: Callable[[], object] | None = None, every: float = 5.0) -> None:
        self.lock = threading.Lock()
        self._buffer = b""
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "submissions.warm_server", profile],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            bufsize=0,
        )
        # the imports take seconds, and much longer on a busy machine: a caller holding a job keeps
        # its lease alive meanwhile (``while_starting`` every ``every`` seconds), or another worker
        # would take the job as orphaned
        deadline = time.monotonic() + _START_SECONDS
        while True:
            first = self._read(max(0.0, min(every, deadline - time.monotonic())))
            if first is not None or not self.alive or time.monotonic() >= deadline:
                break
            if while_starting is not None:
                while_starting()
        if not first or not first.get("ready"):
            self.close()
            raise RuntimeError("the warm fork server did not start")

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def start(self, task_file: str, log_file: str, env: dict[str, str] | None = None) -> int:
        """Fork a task child (with environment ``env``, default the server's); returns its pid."""
        self._proc.stdin.write((json.dumps({"task_file": task_file, "log_file": log_file,
                                            "worker_pid": os.getpid(), "env": env}) + "\n").encode())
        while True:
            message = self._read(60.0)
            if message is None:
                raise RuntimeError("the warm fork server did not answer")
            if "pid" in message:
                return int(message["pid"])

    def wait(self, pid: int, timeout: float | None) -> int | None:
        """The child's return code, or None if it is still running after ``timeout`` seconds."""
        while True:
            message = self._read(timeout)
            if message is None:
                if not self.alive:
                    raise RuntimeError("the warm fork server died")
                return None
            if message.get("exit") == pid:
                return int(message["returncode"])

    def kill(self, pid: int) -> int:
        """SIGKILL the child's process group and wait for its exit report."""
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        code = self.wait(pid, 30.0)
        return -signal.SIGKILL if code is None else code

    def _read(self, timeout: float | None) -> dict[str, Any] | None:
        """Next JSON line from the server, or None on timeout / end of output."""
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1] if len(sys.argv) > 1 else "evaluate"))
