"""One training epoch of a zoo architecture in tf.keras: the comparison side of `perf/train_speed.py`.

Runs under a separate Python that has TensorFlow (``--keras-python`` of
train_speed.py, e.g. a venv made with ``python3 -m venv /work/venv-keras &&
/work/venv-keras/bin/pip install tensorflow-cpu numpy``); it imports only
numpy and TensorFlow, never motifbench, so TensorFlow stays out of the
project's dependencies. The architecture arrives as JSON on the command line
(built by train_speed.py from the zoo spec, so there is one definition of each
model), the data is the same random one-hot set train_speed.py trains on
(same generator and seed), and the optimiser is koo2019's: Adam lr 1e-3,
beta1 0.95, BCE + 1e-6 x sum of squared kernels (Keras L2 regularisers).

Prints one JSON line: ``{"seconds": ..., "cpu_seconds": ..., "warmup_seconds": ...,
"tensorflow": ...}`` where ``seconds`` is one ``model.fit`` epoch over ``n``
sequences, batch 100, shuffled, after a warm-up epoch on 500 sequences (graph
tracing), and ``cpu_seconds`` the CPU time the process (all its threads) spent
on it.

Usage: keras_epoch.py ARCH_JSON N THREADS
"""
from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def random_data(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The same draws as train_speed.random_data, returned channels-last (N, L, 4) for Keras."""
    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]
    y = (rng.random((n, 12)) < 0.2).astype(np.float32)
    return np.ascontiguousarray(x), y


def build(arch: dict, tf):
    """arch: {"length", "convs": [{filters, width, padding, pool, stride, pool_padding, dropout}],
    "dense": [{units, dropout}], "n_classes", "l2", "activation"}."""
    layers, reg = tf.keras.layers, tf.keras.regularizers.l2(arch["l2"])
    inputs = tf.keras.Input((arch["length"], 4))
    h = inputs
    for i, block in enumerate(arch["convs"]):
        h = layers.Conv1D(block["filters"], block["width"], padding=block["padding"], use_bias=False,
                          kernel_regularizer=reg)(h)
        h = layers.BatchNormalization()(h)
        h = layers.Activation(arch["activation"] if i == 0 else "relu")(h)
        if block["pool"] > 1 or block["stride"] > 1:
            h = layers.MaxPool1D(block["pool"], block["stride"], padding=block["pool_padding"])(h)
        if block["dropout"] > 0:
            h = layers.Dropout(block["dropout"])(h)
    h = layers.Flatten()(h)
    for dense in arch["dense"]:
        h = layers.Dense(dense["units"], use_bias=False, kernel_regularizer=reg)(h)
        h = layers.BatchNormalization()(h)
        h = layers.Activation("relu")(h)
        if dense["dropout"] > 0:
            h = layers.Dropout(dense["dropout"])(h)
    outputs = layers.Dense(arch["n_classes"], activation="sigmoid", kernel_regularizer=reg)(h)
    model = tf.keras.Model(inputs, outputs)
    model.compile(tf.keras.optimizers.Adam(1e-3, beta_1=0.95, beta_2=0.999, epsilon=1e-8), "binary_crossentropy")
    return model


def main() -> None:
    arch, n, threads = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    tf.keras.utils.set_random_seed(0)
    x, y = random_data(n, arch["length"])
    model = build(arch, tf)
    t0 = time.perf_counter()
    model.fit(x[:500], y[:500], batch_size=100, epochs=1, verbose=0)  # build + trace
    warm = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(x, y, batch_size=100, epochs=1, verbose=0, shuffle=True)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "warmup_seconds": warm, "tensorflow": tf.__version__}))


if __name__ == "__main__":
    main()
