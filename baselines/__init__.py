"""baselines: the papers' CNN zoo in PyTorch: specs, training, ONNX/safetensors export, sweeps.

Public API (imported on first use; ``baselines.zoo`` and ``baselines.train`` are the modules)::

    from baselines import build_results, get_protocol, model_names, train_run
    model_names()                       # the zoo: Koo & Eddy's CNN-k, cnn-deep, their -nmi variants
    train_run("cnn-25", activation="exp", seed=0, protocol=get_protocol("koo2019"),
              out_dir="runs/cnn-25-exp", data_source="path/or/hub-id")   # one run folder
    build_results(["grid"], "docs/results.md")   # the results page from run records (+ figure)
    preset = get_preset("results")               # what `motifbench sweep --preset results` runs
    tasks = plan_grid(preset.cells(), "grid", get_protocol(preset.protocol), evaluate=True)
    run_sweep(tasks, "grid")                     # resumable; seed-major, like the CLI
    sweep_status(tasks)                          # per row: complete / running / left, hours done and left

Importing this package before torch asks OpenMP to sleep rather than spin
while waiting (``OMP_WAIT_POLICY=PASSIVE``, unless the user set it): on a CPU
shared with other jobs, spinning threads made a 2-thread training step ~30x
slower than a 1-thread one, while passive waiting made it the fastest
(`perf/train_speed.py` measures both). It has to be set before torch loads
its OpenMP runtime, hence here.
"""
import os as _os
import sys as _sys

if "torch" not in _sys.modules:
    _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from benchmark.lazy import lazy_api  # noqa: E402 - after the OpenMP setting above

_API = {
    "get_spec": ("baselines.zoo", "get_spec"),
    "model_names": ("baselines.zoo", "model_names"),
    "train_run": ("baselines.run", "train_run"),
    "Protocol": ("baselines.protocols", "Protocol"),
    "get_protocol": ("baselines.protocols", "get_protocol"),
    "export_checkpoint": ("baselines.export", "export_checkpoint"),
    "run_sweep": ("baselines.sweep", "sweep"),
    "plan_sweep": ("baselines.sweep", "plan"),
    "plan_grid": ("baselines.sweep", "plan_grid"),
    "sweep_status": ("baselines.grid_status", "sweep_status"),
    "get_preset": ("baselines.presets", "get_preset"),
    "RayRunner": ("baselines.runners", "RayRunner"),
    "build_results": ("baselines.results", "build_results"),
    "score_runs": ("baselines.results", "score_runs"),
    "write_model_repo": ("baselines.hub", "write_model_repo"),
    "publish_model_repo": ("baselines.hub", "publish_model_repo"),
}
__all__ = sorted(_API)
__getattr__, __dir__ = lazy_api(__name__, _API, globals())
