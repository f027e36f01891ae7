#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian/Python 3.11 machine, then run it offline.
# This is the README's test command and exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's chromium for the real-browser test of the leaderboard (never `playwright install`).
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -q chromium >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; }
fi

# torch pinned: the CPU build installs from local disk in seconds; an unpinned one drags a multi-GB CUDA build.
python3 -m pip install -q --disable-pip-version-check "torch==2.13.0" -e ".[test,ray]"
# onnx2torch without its dependencies: it requires torchvision (only for detection ops), which would replace
# the pinned CPU torch with a multi-GB CUDA build; evaluator/onnx_to_torch.py imports it behind a stand-in.
python3 -m pip install -q --disable-pip-version-check --no-deps "onnx2torch==1.5.15"
# Tomtom's compiled kernels into numba's cache now, so no test (and no user) waits for a compile.
python3 -m evaluator.tomtom_warm_up

export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False HF_HUB_DISABLE_TELEMETRY=1
export MPLBACKEND=Agg
# Two workers (one per core here; fewer on a one-core machine), each taking whole test files, so a
# module's served app or worker fixture starts once and its tests keep their order.
exec python3 -m pytest -q -n auto --maxprocesses 2 --dist loadfile "$@"
