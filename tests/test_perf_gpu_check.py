"""perf/gpu_check.py, the one script a session with a lent GPU runs, works end to end (here on the CPU)."""
from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from baselines.run import is_complete

SCRIPT = Path(__file__).resolve().parents[1] / "perf" / "gpu_check.py"


@pytest.mark.slow
def test_gpu_check_runs_every_step_and_writes_its_report(tmp_path, synthetic_repo):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--quick", "--models", "cnn-25",
                           "--data", str(synthetic_repo), "--out", str(out), "--work", str(tmp_path / "work")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert not [k for k, v in report.items() if isinstance(v, dict) and "error" in v], report
    assert report["device"]["device"] == "cpu" and report["device"]["cuda_available"] is False
    assert set(report["speed"]) == {"cnn-25 float32", "cnn-25 autocast"}
    assert all(v["epoch_s"] > 0 for v in report["speed"].values())
    # a CPU seed trains the same weights twice: the check must say so (a GPU may not)
    assert report["determinism"]["float32"] == {"bit_identical": True, "max_abs_weight_diff": 0.0}
    (run,) = report["grid"]["runs"]
    assert run["status"] == "trained" and (run["model"], run["seed"]) == ("cnn-100", 4)  # the last cell first
    assert report["dataset"] == str(synthetic_repo)
    # the finished run comes back packed under OUT, ready to unpack into a sweep folder
    with tarfile.open(out / "grid.tar.gz") as tar:
        assert "cnn-100/exp/seed4/COMPLETE" in tar.getnames()
        tar.extractall(tmp_path / "sweep", filter="data")
    assert is_complete(tmp_path / "sweep" / "cnn-100" / "exp" / "seed4")
