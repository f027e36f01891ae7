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
    """``motifbench worker`` as a child process with the same data home.

    Parameters
    ----------
    args : extra ``motifbench worker`` options, e.g. ``["--limit", "200"]``.
    poll : seconds between looks at an empty queue.
    """

    def __init__(self, args: Sequence[str] = (), poll: float = 2.0) -> None:
        self.args = list(args)
        self.poll = poll
        self.proc: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        # the submissions part's own entry point: the Space bundle ships no baselines, so not the umbrella CLI
        cmd = [sys.executable, "-m", "submissions.cli", "worker", "--poll", str(self.poll), *self.args]
        self.proc = subprocess.Popen(cmd, env=dict(os.environ))
        log.info("worker started (pid %d): %s", self.proc.pid, " ".join(cmd[2:]))
        atexit.register(self.stop)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (the worker hands its running job back), then SIGKILL if it lingers."""
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


def _queue_bundled_baselines() -> None:
    """Queue the shipped baseline models in the background (validation trial-runs each one)."""
    try:
        from space_app.bundled_baselines import queue_bundled_baselines

        queue_bundled_baselines()
    except Exception:  # the page must come up whatever happens here
        log.exception("could not queue the bundled baselines")


def serve(demo, launch_options: dict, *, host: str = "127.0.0.1", port: int = 7860, worker: bool = True,
          worker_args: Sequence[str] = (), build_dataset: bool = True, block: bool = True, baselines: bool = True):
    """Start the worker (unless ``worker=False``) and the Gradio app ``demo``; blocks until stopped.

    ``demo`` and ``launch_options`` come from :mod:`space_app.app` (``demo``,
    ``launch_kwargs()``): the app imports this module, never the other way.
    With ``baselines`` (default) the bundled baseline models are queued in the
    background, so a new leaderboard fills with the papers' grid as the worker
    scores them. Returns the Blocks app when ``block`` is False (tests and embedding).
    """
    quiet_env()
    if build_dataset:
        folder = ensure_dataset()
        print(f"dataset: {folder}\n  load it with: from datasets import load_dataset; "
              f"load_dataset({str(folder)!r}, 'synthetic')", flush=True)
    from benchmark.rounds import ensure_round

    ensure_round()  # the hidden-test round (its secret is created here on first start; docs/rounds.md)
    if block:
        stop_on_sigterm()
    proc = WorkerProcess(worker_args).start() if worker else None
    if baselines:
        threading.Thread(target=_queue_bundled_baselines, name="queue-baselines", daemon=True).start()
    try:
        demo.launch(server_name=host, server_port=port, prevent_thread_lock=not block, **launch_options)
    finally:
        if block and proc is not None:
            proc.stop()
    return demo
