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
    """Folders whose files the page may serve: result JSONs, logo PNGs, the Space's cache."""
    from submissions.store import submissions_home

    root = submissions_home()
    return [str(root / "results"), str(root / "runs"), str(root / "space_cache")]
