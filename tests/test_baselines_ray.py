"""The Ray runner for real: a local Ray with 2 CPUs trains a two-run sweep exactly as the local runner does."""
from __future__ import annotations

import json
import os

import pytest
import ray

from baselines import sweep as sw
from baselines.protocols import get_protocol
from baselines.runners import RayRunner, RunFailed, start_local_ray
from motifbench.cli import main

#: spec.json fields that are clocks or calendars, not results.
TIMING_FIELDS = {"train_seconds", "wall_time_seconds", "created"}


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray (2 CPUs) for this module; runners join it and leave it running."""
    start_local_ray(ray, num_cpus=2, include_dashboard=False, log_to_driver=True)
    yield ray
    ray.shutdown()


def _plan(out, repo):
    protocol = get_protocol("koo2019", epochs=2, patience=2)
    return sw.plan(["cnn-25"], ["relu", "exp"], [0], out, protocol, data_source=str(repo), limit=200,
                   device="cpu", threads=1, progress=False)


def _results(run_dir):
    spec = json.loads((run_dir / "spec.json").read_text())
    for key in TIMING_FIELDS:
        spec.pop(key)
    log = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    for record in log:
        record.pop("seconds")
    return spec, log


def test_sweep_command_on_a_local_ray(tmp_path, synthetic_repo, capsys):
    assert not ray.is_initialized()
    out = tmp_path / "cli"
    args = ["sweep", "--models", "cnn-25", "--activations", "relu", "--seeds", "0,1", "--out", str(out),
            "--data", str(synthetic_repo), "--limit", "200", "--epochs", "1", "--device", "cpu",
            "--runner", "ray", "--ray-cpus", "2", "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "[2/2] trained" in printed and "trained 2, skipped 0" in printed
    spec = json.loads((sw.run_dir_for(out, "cnn-25", "relu", 1) / "spec.json").read_text())
    assert spec["threads"] == 1  # --cpus-per-run 1 -> one torch thread per Ray task
    assert not ray.is_initialized()  # the local Ray the command started is stopped again (runs first: no fixture)


def test_an_unreachable_or_malformed_cluster_address_is_a_clear_error_at_once(tmp_path, synthetic_repo, capsys):
    """Runs before the module's local Ray starts (a runner joins a running Ray without looking at the address)."""
    import socket
    import time

    from baselines.runners import check_ray_address

    with socket.socket() as closed:  # a port nothing listens on once this block ends
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    began = time.monotonic()
    args = ["sweep", "--models", "cnn-25", "--activations", "relu", "--seeds", "0", "--out", str(tmp_path / "g"),
            "--data", str(synthetic_repo), "--limit", "200", "--epochs", "1", "--device", "cpu",
            "--runner", "ray", "--ray-address", f"127.0.0.1:{port}", "--no-progress"]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert f"no Ray cluster answers at 127.0.0.1:{port}" in err and "ray start --head" in err, err
    assert time.monotonic() - began < 60  # Ray alone retried such an address for minutes
    assert not ray.is_initialized() and not list((tmp_path / "g").rglob("spec.json"))
    for bad in ("localhost", "ray://", "head:port", ":6379"):
        with pytest.raises(sw.BaselineError, match="expected HOST:PORT"):
            check_ray_address(bad)
    with socket.socket() as listening:  # something listens: the address passes (Ray then speaks to it)
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_ray_address(f"ray://127.0.0.1:{listening.getsockname()[1]}")
    check_ray_address("auto")  # Ray resolves it


def test_ray_sweep_equals_the_local_runner_bit_for_bit(tmp_path, synthetic_repo, local_ray):
    local = sw.sweep(_plan(tmp_path / "local", synthetic_repo), tmp_path / "local")
    remote_rows = []
    distributed = sw.sweep(_plan(tmp_path / "ray", synthetic_repo), tmp_path / "ray",
                           runner=RayRunner(num_cpus=1), on_row=remote_rows.append)
    assert local.counts == distributed.counts == {"trained": 2, "skipped": 0, "busy": 0}
    assert len(remote_rows) == 2
    workers = {row["worker"].rsplit(":", 1)[1] for row in distributed.rows}
    assert str(os.getpid()) not in workers  # trained in Ray worker processes, not here
    for activation in ("relu", "exp"):
        a = sw.run_dir_for(tmp_path / "local", "cnn-25", activation, 0)
        b = sw.run_dir_for(tmp_path / "ray", "cnn-25", activation, 0)
        assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
        assert (a / "model.onnx").read_bytes() == (b / "model.onnx").read_bytes()
        assert _results(a) == _results(b)
    # resumable exactly like the local runner: a second pass skips both, an interrupted run is redone
    (sw.run_dir_for(tmp_path / "ray", "cnn-25", "exp", 0) / "COMPLETE").unlink()
    again = sw.sweep(_plan(tmp_path / "ray", synthetic_repo), tmp_path / "ray", runner=RayRunner(num_cpus=1))
    assert again.counts == {"trained": 1, "skipped": 1, "busy": 0}
    b = sw.run_dir_for(tmp_path / "ray", "cnn-25", "exp", 0)
    a = sw.run_dir_for(tmp_path / "local", "cnn-25", "exp", 0)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()


def flaky(path: str) -> str:
    """Fails on its first call for a path (leaves a marker), succeeds on the next: a transient fault."""
    marker = f"{path}.tried"
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise OSError(f"transient failure for {path}")
    return path


def broken(path: str) -> str:
    if path.endswith("bad"):
        raise ValueError(f"cannot train {path}")
    return path


ray.cloudpickle.register_pickle_by_value(__import__(__name__))  # workers need not import the test module


def test_ray_runner_retries_and_reports_failures_after_the_rest(tmp_path, local_ray):
    paths = [str(tmp_path / "a"), str(tmp_path / "b")]
    assert sorted(RayRunner(max_retries=1).map(flaky, paths)) == paths

    got = []
    with pytest.raises(RunFailed, match=r"1 of 2 run\(s\) failed after 0 retries[\s\S]*ValueError: cannot train .*bad"):
        for value in RayRunner(max_retries=0).map(broken, [str(tmp_path / "good"), str(tmp_path / "bad")]):
            got.append(value)
    assert got == [str(tmp_path / "good")]


class _SlowStartRay:
    """Stands in for the ``ray`` module's init/shutdown only: the real start is tested above."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures, self.calls = failures, []

    def init(self, **kwargs):
        self.calls.append(("init", kwargs))
        if self.failures:
            raise self.failures.pop(0)

    def shutdown(self):
        self.calls.append(("shutdown", {}))


def test_a_local_ray_that_timed_out_starting_is_started_once_more():
    timeout = Exception("The current node timed out during startup. This could happen because ...")
    flaky = _SlowStartRay([timeout])
    start_local_ray(flaky, num_cpus=2)
    assert flaky.calls == [("init", {"num_cpus": 2}), ("shutdown", {}), ("init", {"num_cpus": 2})]
    with pytest.raises(Exception, match="timed out during startup"):  # twice: Ray's own error, not a loop
        start_local_ray(_SlowStartRay([timeout, timeout]))
    other = _SlowStartRay([ValueError("num_cpus must be positive")])
    with pytest.raises(ValueError, match="num_cpus"):  # any other failure is not retried
        start_local_ray(other)
    assert [c for c, _ in other.calls] == ["init"]

