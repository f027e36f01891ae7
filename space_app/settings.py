"""Process settings the app and the service share: no telemetry, which folders the page may serve."""
from __future__ import annotations

import os

#: Environment that keeps Gradio and the Hugging Face libraries from calling home.
QUIET_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}


def quiet_env() -> None:
    """Turn off Gradio analytics and telemetry (call before ``import gradio``)."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def allowed_paths() -> list[str]:
    """Folders whose files the page may serve: result JSONs and artifacts, the Space's cache; never ``runs/``."""
    from submissions.store import submissions_home

    root = submissions_home()
    return [str(root / "results"), str(root / "space_cache")]


def blocked_paths() -> list[str]:
    """What the page must never serve, even if a handler named it: the worker's runs, the database, uploads."""
    from submissions.store import submissions_home

    root = submissions_home()
    return [str(root / name) for name in ("runs", "checkpoints", "incoming", "backups", "model_facts",
                                          "queue.sqlite", "queue.sqlite-wal", "queue.sqlite-shm", "intake_log.sqlite")]
