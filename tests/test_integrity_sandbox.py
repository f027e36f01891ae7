"""The sandboxed child that runs a submitted model never gets the round secret.

On a Hugging Face Space the secret arrives as ``$MOTIFBENCH_ROUND_SECRET``.
The worker and ``serve`` need it; the child that runs a model must not
inherit it (spawned or forked from the warm server), and a process holding it
hides its ``/proc/PID/environ`` from other processes of the same user.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

import corpus
from benchmark.rounds import SECRET_ENV
from submissions import sandbox
from submissions.intake import submit
from submissions.validate import ValidationLimits
from submissions.warm_server import WarmServer

MANIFEST = {"model_name": "env probe", "submitter": "tests", "dataset": {"config": "synthetic", "version": "1.0.0"},
            "output_kind": "probabilities", "license": "MIT"}


@pytest.mark.parametrize("launcher", ["spawn", "forkserver"])
def test_sandboxed_child_never_gets_the_secret(launcher, tmp_path, monkeypatch, synthetic_repo):
    secret = secrets.token_hex(32)
    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(SECRET_ENV, secret)
    handed: list[dict] = []
    real_popen, real_start = subprocess.Popen, WarmServer.start

    def popen_spy(args, *a, **kw):  # the real Popen, with the environment of every sandbox process noted
        if any("submissions.run_job" in str(x) or "submissions.warm_server" in str(x) for x in args):
            handed.append(dict(kw.get("env") or os.environ))
        return real_popen(args, *a, **kw)

    def start_spy(self, task_file, log_file, env=None):
        handed.append(dict(env or {}))
        return real_start(self, task_file, log_file, env)

    monkeypatch.setattr(sandbox.subprocess, "Popen", popen_spy)
    monkeypatch.setattr(WarmServer, "start", start_spy)
    old = sandbox._WARM.pop("trial", None)  # a server started before the secret was set proves nothing
    model = tmp_path / "m.onnx"
    onnx.save(corpus.cnn_model(5), model)
    try:
        sub = submit(model, MANIFEST, data=synthetic_repo, limits=ValidationLimits(trial_launcher=launcher))
        assert sub.trial["output_shape"][1] == 12  # the trial really ran in the child
        assert handed, "no sandbox process was started"
        for env in handed:
            assert SECRET_ENV not in env and not any(secret in v for v in env.values())
            assert env["MALLOC_ARENA_MAX"] == "2"  # still the sandbox's environment otherwise
        if launcher == "forkserver":
            server = sandbox._WARM["trial"]
            environ = Path(f"/proc/{server._proc.pid}/environ").read_bytes()
            assert secret.encode() not in environ  # a forked child's /proc/self/environ is this block
            assert os.environ[SECRET_ENV] == secret  # the caller keeps it
    finally:
        server = sandbox._WARM.pop("trial", None)
        if server is not None:
            server.close()
        if old is not None:
            sandbox._WARM["trial"] = old


PROBE = """
import ctypes, time
from submissions.sandbox import guard_process_secrets
print(guard_process_secrets(), ctypes.CDLL(None).prctl(3, 0, 0, 0, 0), flush=True)  # 3 = PR_GET_DUMPABLE
time.sleep(30)
"""


@pytest.mark.parametrize("with_secret", [True, False])
def test_a_process_holding_the_secret_is_not_dumpable(with_secret):
    """serve and the worker call the guard: with the secret in their environment they become non-dumpable."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    env.pop(SECRET_ENV, None)
    if with_secret:
        env[SECRET_ENV] = secrets.token_hex(32)
    holder = subprocess.Popen([sys.executable, "-c", PROBE], env=env, stdout=subprocess.PIPE, text=True)
    try:
        guarded, dumpable = holder.stdout.readline().split()
        assert guarded == str(with_secret) and dumpable == ("0" if with_secret else "1")
        if os.getuid() != 0:  # a process of the same user (a sandboxed child) cannot read its environ
            probe = subprocess.run(["cat", f"/proc/{holder.pid}/environ"], capture_output=True, timeout=60)
            assert (probe.returncode != 0) == with_secret, probe.stderr
    finally:
        holder.kill()
        holder.wait()


HOLD = """
import ctypes, os, subprocess, sys
if sys.argv[1] == "guard":
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0, as guard_process_secrets does
child = subprocess.run(["cat", f"/proc/{os.getpid()}/environ"], capture_output=True)  # same user, no privilege
print("refused" if child.returncode else "read")
"""


@pytest.mark.parametrize("guard", [True, False])
def test_the_kernel_hides_a_non_dumpable_process_from_its_own_user(guard):
    """What the guard relies on, shown as an unprivileged user (root may read any /proc entry)."""
    cmd = [sys.executable, "-c", HOLD, "guard" if guard else "plain"]
    if os.getuid() == 0:  # run as nobody with the system interpreter (the test one may sit in /root)
        if not (shutil.which("setpriv") and Path("/usr/bin/python3").is_file()):
            pytest.fail("running as root needs setpriv and /usr/bin/python3 to test as an unprivileged user")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", *cmd[1:]]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd="/")
    assert out.stdout.strip() == ("refused" if guard else "read"), out.stderr


@pytest.mark.slow
def test_a_space_secret_from_the_environment_never_reaches_disk_or_the_child(tmp_path, monkeypatch, synthetic_repo):
    """The Hugging Face Space way: the seed in $MOTIFBENCH_ROUND_SECRET, a real worker with its warm fork server."""
    from benchmark.rounds import commitment, rounds_dir
    from submissions.sqlite_store import open_store
    from submissions.store import FINISHED
    from submissions.worker import Worker, WorkerConfig
    from test_integrity_service import assert_secret_absent

    seed = secrets.token_bytes(32)
    home = tmp_path / "home"
    monkeypatch.setenv("MOTIFBENCH_HOME", str(home))
    monkeypatch.setenv(SECRET_ENV, seed.hex())
    old = sandbox._WARM.pop("evaluate", None)
    try:
        with open_store() as store:
            sid = corpus.enqueue_unvalidated(store, corpus.cnn_model(9), {**MANIFEST, "model_name": "space"},
                                             synthetic_repo, tmp_path)
            worker = Worker(store, WorkerConfig(eval_params={"limit": 60, "attribution": False}, intervals=None,
                                                heartbeat_seconds=0.5, data=str(synthetic_repo)))
            assert [r.state for r in worker.run(once=True)] == [FINISHED]
            record = store.get(sid).record
        assert record["round"]["commitment"] == commitment(seed) and record["dataset"]["split"] == "hidden"
        assert not (rounds_dir(home) / "secret").exists()  # the seed lives in the environment only
        server = sandbox._WARM["evaluate"]
        assert seed.hex().encode() not in Path(f"/proc/{server._proc.pid}/environ").read_bytes()
        assert_secret_absent(seed, home, "", [])
    finally:
        server = sandbox._WARM.pop("evaluate", None)
        if server is not None:
            server.close()
        if old is not None:
            sandbox._WARM["evaluate"] = old
