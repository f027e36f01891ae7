"""space_app: the Gradio leaderboard (a Hugging Face Space), its service and the Space bundle.

Public API (imported on first use; ``space_app.app`` builds the Gradio app on import)::

    from space_app import serve, write_space_bundle
    from space_app.app import demo, launch_kwargs
    serve(demo, launch_kwargs(), host="127.0.0.1", port=7860)   # what `motifbench serve` runs
    write_space_bundle("my-space/")                             # what `motifbench space-bundle` writes
"""
from benchmark.lazy import lazy_api

_API = {
    "serve": ("space_app.service", "serve"),
    "ensure_dataset": ("space_app.service", "ensure_dataset"),
    "write_space_bundle": ("space_app.bundle", "bundle"),
    "queue_bundled_baselines": ("space_app.bundled_baselines", "queue_bundled_baselines"),
}
__all__ = sorted(_API)
__getattr__, __dir__ = lazy_api(__name__, _API, globals())
