"""Running the Space: offline settings, first-start dataset, the evaluation worker, and launch.

``motifbench serve`` and the Space's ``python app.py`` both come through
:func:`serve`. The worker is the submissions part's own ``motifbench worker``
in a child process: a model that crashes the evaluation (or the worker) never
takes the web server down, and SIGTERM on shutdown hands a running job back
to the queue.
"""
from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from space_app.settings import quiet_env

log = logging.getLogger(__name__)

def ensure_dataset(progress: bool = True) -> Path:
    """The data home's dataset folder, building the synthetic config there on first start.

    Returns the folder. A folder whose synthetic config already exists is left as it is.
    """
    from benchmark.errors import MotifbenchError
    from benchmark.loader import dataset_info
    from benchmark.paths import default_dataset_dir

    folder = default_dataset_dir()
    try:
        dataset_info(None, "synthetic")
        return folder
    except MotifbenchError:
        pass
    from benchmark.synthetic import build_synthetic

    log.info("no synthetic dataset in %s: building it (koo2019 preset) on first start", folder)
    build_synthetic(folder, progress=progress)
    return folder


class WorkerProcess:
    """``motifbench worker`` as a supervised child process with the same data home.

    The child dies with this process (``submissions.parent_link``: a
    parent-death signal and a pipe), so killing ``serve`` never leaves an old
    worker scoring. :meth:`supervise` restarts a worker that died (a crash, a
    full disk it could not survive), waiting longer after each quick death.

    Parameters
    ----------
    args : extra ``motifbench worker`` options, e.g. ``["--limit", "200"]``.
    poll : seconds between looks at an empty queue.
    """

    def __init__(self, args: Sequence[str] = (), poll: float = 2.0) -> None:
        self.args = list(args)
        self.poll = poll
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._link_fd: int | None = None
        self._lock = threading.Lock()

    def start(self) -> WorkerProcess:
        from submissions.parent_link import child_link

        # the submissions part's own entry point: the Space bundle ships no baselines, so not the umbrella CLI
        cmd = [sys.executable, "-m", "submissions.cli", "worker", "--poll", str(self.poll), *self.args]
        env, read_fd, write_fd = child_link()
        with self._lock:
            try:
                self.proc = subprocess.Popen(cmd, env={**os.environ, **env}, pass_fds=(read_fd,))
            finally:
                os.close(read_fd)
            if self._link_fd is not None:
                os.close(self._link_fd)
            self._link_fd = write_fd  # kept open, never written: EOF in the child means we are gone
        log.info("worker started (pid %d): %s", self.proc.pid, " ".join(cmd[2:]))
        atexit.register(self.stop)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def supervise(self, check_every: float = 2.0, backoff: float = 2.0, backoff_max: float = 60.0) -> threading.Thread:
        """Restart the worker whenever it has died, in a daemon thread (returned)."""

        def loop() -> None:
            delay = backoff
            while not self._stopping.wait(check_every):
                if self.alive() or self.proc is None:
                    continue
                code = self.proc.returncode
                log.error("the worker (pid %d) exited with %s: restarting it in %.0f s", self.proc.pid, code, delay)
                if self._stopping.wait(delay):
                    return
                started = time.monotonic()
                self.start()
                self.restarts += 1
                delay = backoff if time.monotonic() - started > 60 else min(delay * 2, backoff_max)

        thread = threading.Thread(target=loop, name="worker-supervisor", daemon=True)
        thread.start()
        return thread

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (the worker hands its running job back), then SIGKILL if it lingers."""
        self._stopping.set()
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C, so a terminated server still stops its worker (main thread only)."""
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def _queue_bundled_baselines(folder: Path | None = None) -> None:
    """Queue the shipped baseline models (or those of ``folder``) in the background (validation trial-runs each)."""
    try:
        from space_app.bundled_baselines import BUNDLE_DIR, queue_bundled_baselines

        queue_bundled_baselines(folder=Path(folder) if folder else BUNDLE_DIR)
    except Exception:  # the page must come up whatever happens here
        log.exception("could not queue the bundled baselines")


def serve(demo, launch_options: dict, *, host: str = "127.0.0.1", port: int = 7860, worker: bool = True,
          worker_args: Sequence[str] = (), build_dataset: bool = True, block: bool = True, baselines: bool = True,
          baseline_folder: str | Path | None = None):
    """Start the worker (unless ``worker=False``) and the Gradio app ``demo``; blocks until stopped.

    ``demo`` and ``launch_options`` come from :mod:`space_app.app` (``demo``,
    ``launch_kwargs()``): the app imports this module, never the other way.
    With ``baselines`` (default) the bundled baseline models are queued in the
    background, so a new leaderboard fills with the papers' grid as the worker
    scores them; ``baseline_folder`` queues the runs of another bundle folder instead (same layout:
    ``RUN/model.onnx`` + ``RUN/spec.json``). Returns the Blocks app when ``block`` is False (tests and embedding).
    """
    quiet_env()
    if build_dataset:
        folder = ensure_dataset()
        print(f"dataset: {folder}\n  load it with: from datasets import load_dataset; "
              f"load_dataset({str(folder)!r}, 'synthetic')", flush=True)
    from benchmark.rounds import ensure_round

    ensure_round()  # the hidden-test round (its secret is created here on first start; docs/rounds.md)
    from submissions.sandbox import guard_process_secrets

    guard_process_secrets()  # /proc/PID/environ of a process holding $MOTIFBENCH_ROUND_SECRET: not for other processes
    if block:
        stop_on_sigterm()
    from submissions.intake import sweep_incoming

    sweep_incoming()  # staged uploads and trial folders of intakes that were killed
    proc = WorkerProcess(worker_args).start() if worker else None
    if proc is not None:
        proc.supervise()
    if baselines:
        threading.Thread(target=_queue_bundled_baselines, args=(baseline_folder,), name="queue-baselines",
                         daemon=True).start()
    try:
        demo.launch(server_name=host, server_port=port, prevent_thread_lock=not block, **launch_options)
    finally:
        if block and proc is not None:
            proc.stop()
    return demo
