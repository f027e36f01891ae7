"""Where a CPU training step's time goes, op by op: torch.profiler over the real step of `baselines.train`.

Runs ``--steps`` steps of the step `fit` runs on CPU (channels-last forward,
BCE with logits, backward, flat Adam with L2 as weight decay; optionally under
``--cpu-amp``'s bfloat16 autocast) on random one-hot batches of 100 x 200 nt,
after a warm-up, and prints the CPU seconds per step (thread CPU time, which
a busy machine inflates less than wall time), the implied seconds per
17,500-sequence epoch, and the profiler's table of ops by self time, split
by input shape (so the first layer's batch norm is told apart from the
second's). The profiler measures wall time per op: on a shared machine
compare shares between ops, not absolute figures, or run it twice.

Usage: python perf/train_profile.py [--model cnn-25] [--steps 30] [--threads 1] [--cpu-amp] [--rows 25]
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.nn import functional as F
from torch.profiler import ProfilerActivity, profile

from baselines.data import DataBundle
from baselines.device import amp_settings
from baselines.flat_adam import FlatAdam
from baselines.model import build_model
from baselines.protocols import get_protocol
from baselines.train import BatchFeeder, _optimizer, reproducible
from baselines.zoo import get_spec

N_TRAIN, LENGTH, BATCH = 17_500, 200, 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn-25")
    parser.add_argument("--activation", default="relu", choices=("relu", "exp"))
    parser.add_argument("--steps", type=int, default=30, help="profiled steps (as many are timed before)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cpu-amp", action="store_true", help="bfloat16 autocast, as fit(cpu_amp=True)")
    parser.add_argument("--rows", type=int, default=25, help="ops listed")
    args = parser.parse_args()

    # the same random one-hot data as the Keras comparison (perf/ is this script's sys.path[0])
    from train_speed import random_data

    n = (2 * args.steps + 5) * BATCH
    x, y = random_data(n, LENGTH)
    data = DataBundle.from_arrays((x, y), (x[:BATCH], y[:BATCH]), (x[:BATCH], y[:BATCH]))
    device = torch.device("cpu")
    amp = amp_settings(device, cpu=args.cpu_amp)
    with reproducible(device, 0, args.threads):
        model = build_model(get_spec(args.model), args.activation, LENGTH).train()
        optimizer = FlatAdam(_optimizer(model, get_protocol("koo2019")))  # as fit steps
        batches = iter(BatchFeeder(data.train, device, BATCH).epoch(torch.Generator().manual_seed(0)))

        def step() -> None:
            xb, yb = next(batches)
            with torch.autocast("cpu", dtype=amp.dtype, enabled=amp.enabled):
                logits = model.forward_channels_last(xb)
            loss = F.binary_cross_entropy_with_logits(logits.float(), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        for _ in range(5):
            step()
        c0 = time.thread_time()
        for _ in range(args.steps):
            step()
        per_step = (time.thread_time() - c0) / args.steps
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for _ in range(args.steps):
                step()
    precision = "bfloat16 autocast" if amp.enabled else "float32"
    print(f"{args.model} ({args.activation}, {precision}, {args.threads} thread(s)): {1e3 * per_step:.1f} ms CPU per "
          f"step of {BATCH}, {per_step * N_TRAIN / BATCH:.2f} s per {N_TRAIN:,}-sequence epoch; "
          f"profile of {args.steps} steps:")
    print(prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=args.rows,
                                                            max_name_column_width=45, max_shapes_column_width=60))


if __name__ == "__main__":
    main()
