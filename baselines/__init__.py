"""baselines: the papers' CNN zoo in PyTorch: specs, training, ONNX/safetensors export, sweeps.

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
