"""Device choice and the mixed-precision settings that go with it.

Selection is a pure function of what is available, so it is testable without
a GPU; CUDA gets autocast (bfloat16 where the card supports it, else float16
with a GradScaler); a CPU runs float32 unless asked for bfloat16 autocast
(``cpu=True``, the CLI's ``--cpu-amp``), which needs native bfloat16 in the
CPU; MPS runs float32.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from typing import NamedTuple

import torch

from baselines.errors import BaselineError
from baselines.protocols import DEVICE_CHOICES


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def select_device(
    requested: str = "auto", *, cuda_available: bool | None = None, mps_available: bool | None = None
) -> torch.device:
    """The device to train on.

    Parameters
    ----------
    requested : {"auto", "cpu", "cuda", "mps"}
        ``auto`` prefers CUDA, then Apple MPS, then CPU; an explicit choice that
        is not available is an error rather than a silent fallback.
    cuda_available, mps_available : bool, optional
        Override detection (tests).
    """
    if requested not in DEVICE_CHOICES and not requested.startswith("cuda:"):
        raise BaselineError(f"unknown device {requested!r}; expected one of {', '.join(DEVICE_CHOICES)}")
    cuda = torch.cuda.is_available() if cuda_available is None else cuda_available
    mps = _mps_available() if mps_available is None else mps_available
    if requested == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if requested.startswith("cuda") and not cuda:
        raise BaselineError("--device cuda was requested but CUDA is not available (torch.cuda.is_available() is False)")
    if requested == "mps" and not mps:
        raise BaselineError("--device mps was requested but the MPS backend is not available")
    return torch.device(requested)


class AmpSettings(NamedTuple):
    """Autocast settings for one device: enabled, compute dtype, and whether a GradScaler is needed."""

    enabled: bool
    dtype: torch.dtype
    use_scaler: bool


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 dot products in hardware (x86 AVX512-BF16 or AMX-BF16).

    oneDNN also runs bfloat16 on CPUs without them, by emulation, slower than
    float32; Linux only (reads /proc/cpuinfo), False elsewhere.
    """
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = cpuinfo.read()
    except OSError:
        return False
    return bool(torch.backends.mkldnn.is_available()) and ("avx512_bf16" in flags or "amx_bf16" in flags)


def amp_settings(
    device: torch.device, *, enabled: bool = True, bf16_supported: bool | None = None, cpu: bool = False
) -> AmpSettings:
    """Autocast settings for ``device``.

    CUDA (unless ``enabled`` is False): bfloat16 when supported (no loss scaling
    needed, no fp16 overflow of the exp activation), else float16 with a
    GradScaler. CPU: float32, or bfloat16 autocast when ``cpu`` is True (the
    convolutions and dense layers then multiply in bfloat16 with float32 sums
    and float32 master weights, as on a GPU: 1.15-1.4x faster per epoch on an
    AVX512-BF16 CPU, and the trained numbers differ from float32 training);
    ``bf16_supported`` overrides the detection (`cpu_has_native_bf16` on CPU).
    Asking for it on a CPU without native bfloat16 is an error, not a silent
    slow emulation.
    """
    if enabled and cpu and device.type == "cpu":
        native = cpu_has_native_bf16() if bf16_supported is None else bf16_supported
        if not native:
            raise BaselineError("--cpu-amp needs a CPU with native bfloat16 (AVX512-BF16 or AMX); this one has "
                                "neither, and emulated bfloat16 is slower than float32: train without --cpu-amp")
        return AmpSettings(True, torch.bfloat16, False)
    if not enabled or device.type != "cuda":
        return AmpSettings(False, torch.float32, False)
    bf16 = torch.cuda.is_bf16_supported() if bf16_supported is None else bf16_supported
    return AmpSettings(True, torch.bfloat16, False) if bf16 else AmpSettings(True, torch.float16, True)


def default_threads() -> int:
    """Intra-op threads for CPU training: the CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


#: glibc mallopt parameters (malloc.h): M_TRIM_THRESHOLD and M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


@functools.cache
def keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed activation buffers for reuse (once per process).

    PyTorch's CPU allocator has no cache: every step allocates and frees its
    activations (5 MB each for cnn-2 at batch 100). glibc serves blocks that
    large with ``mmap`` or trims them off the heap on free, so each step
    page-faults them in again; that was about 15% of a 1-thread cnn-2 step.
    Raising the mmap threshold to its maximum (32 MB) and the trim threshold to
    1 GB keeps them in the heap. The numbers computed are unchanged; the
    process keeps its peak memory. Returns False where the C library has no
    ``mallopt`` (not glibc), which changes nothing else.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))
