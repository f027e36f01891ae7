"""Background work that a waiting thread helps finish gives the same results as one thread."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from evaluator.work_share import HelpedFuture, WorkShare


def test_blocks_come_back_in_order_whichever_thread_computed_them():
    share = WorkShare()
    seen: dict[int, str] = {}

    started, helped = threading.Event(), threading.Event()
    job_blocks: list = []

    def square(block):
        if threading.current_thread().name == "job":
            started.set()
            if job_blocks:  # from its second block on, the job waits until the helper has done one, so
                helped.wait(30)  # a stalled helper thread on a busy machine still finds blocks left
            job_blocks.append(block)
        else:
            helped.set()
        time.sleep(0.01)
        for v in block:
            seen[v] = threading.current_thread().name
        return [v * v for v in block]

    out: list = []
    job = threading.Thread(target=lambda: out.append(share.map_blocks(list(range(40)), square, 3)), name="job")
    job.start()
    assert started.wait(30)  # the job has begun its blocks (on a busy machine that may take a while), then help
    share.help()
    job.join()
    assert [v for block in out[0] for v in block] == [v * v for v in range(40)]
    assert set(seen.values()) == {"job", threading.current_thread().name}  # both threads did blocks


def test_an_error_in_a_helped_block_reaches_the_waiting_job():
    share = WorkShare()

    def fails_on_seven(block):
        time.sleep(0.005)
        if 7 in block:
            raise ValueError("block with 7 failed")
        return block

    errors: list = []

    def job():
        try:
            share.map_blocks(list(range(20)), fails_on_seven, 1)
        except ValueError as exc:
            errors.append(exc)

    t = threading.Thread(target=job)
    t.start()
    share.help()
    t.join()
    assert errors and "block with 7" in str(errors[0])


def test_help_without_running_work_returns_and_the_future_still_answers():
    from concurrent.futures import ThreadPoolExecutor

    share = WorkShare()
    share.help()  # nothing running: no-op
    with ThreadPoolExecutor(1) as pool:
        future = HelpedFuture(pool.submit(lambda: share.map_blocks([1, 2, 3], lambda b: sum(b), 2)), share)
        assert future.result() == [3, 3]


def test_the_recovery_bootstrap_gives_the_same_intervals_shared_or_alone(monkeypatch):
    import evaluator.recovery_uncertainty as ru
    from evaluator.params import EvalParams
    from evaluator.recovery_uncertainty import PerSequencePPMs, recovery_intervals
    from evaluator.uncertainty import bootstrap_counts

    rng = np.random.default_rng(3)
    n, length, filters = 120, 60, 4
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1).copy()
    acts = rng.gamma(1.0, 1.0, (n, filters, length)).astype(np.float32)
    params = EvalParams()
    acc = PerSequencePPMs(params.ppm_method, acts.max(axis=(0, 2)), params.nmi_window, length, length,
                          params.activation_threshold)
    acc.update(x, acts)
    counts = bootstrap_counts(n, 6, np.random.default_rng([0, 1]))
    alone = recovery_intervals(acc, params, counts, workers=1)
    monkeypatch.setattr(ru, "SHARED_BLOCK", 2)  # many small blocks, so both threads take some
    share = WorkShare()
    out: list = []
    t = threading.Thread(target=lambda: out.append(recovery_intervals(acc, params, counts, workers=1, share=share)))
    t.start()
    share.help()
    t.join()
    assert out[0] == alone and alone["tomtom_queries"] > 0


if __name__ == "__main__":
    pytest.main([__file__])
