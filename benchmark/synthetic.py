"""The `synthetic` config: generator output -> dataset rows -> a dataset repo folder."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from benchmark.dataset_repo import write_config
from benchmark.errors import MotifbenchError
from benchmark.generator import SPLIT_FRACTIONS, SyntheticSample, generate_fast, generate_koo2019
from benchmark.jaspar import DEFAULT_RELEASE
from benchmark.motifs import load_motif_set
from benchmark.schema import arrow_schema

ALPHABET = np.frombuffer(b"ACGT", dtype=np.uint8)

#: Named generator presets; `koo2019` is the published set.
PRESETS: dict[str, dict] = {
    "koo2019": {
        "n": 25_000,
        "length": 200,
        "seed": 33,
        "n_figure_draws": 10,
        "description": (
            "Bit-exact re-implementation of the published generator (Koo & Eddy 2019 notebook): "
            "legacy NumPy RNG seeded 33, the 10 figure draws before the main loop, one "
            "generate_model + simulate_sequence per sequence, then np.random.permutation for the split."
        ),
    },
    "fast": {
        "n": 25_000,
        "length": 200,
        "seed": 0,
        "description": (
            "Vectorised generator (NumPy Generator) drawing from the koo2019 distribution; "
            "not the paper's sequences, the same distribution."
        ),
    },
}

BATCH_ROWS = 5_000


def generate(preset: str = "koo2019", n: int | None = None, length: int | None = None, seed: int | None = None,
             progress: bool = False) -> tuple[SyntheticSample, dict]:
    """Run a preset (with optional overrides); returns the sample and the generator record for the manifest."""
    if preset not in PRESETS:
        raise MotifbenchError(f"unknown generator preset {preset!r}; choose one of {sorted(PRESETS)}")
    params = dict(PRESETS[preset])
    for key, value in (("n", n), ("length", length), ("seed", seed)):
        if value is not None:
            params[key] = int(value)
    if params["n"] < 10:
        raise MotifbenchError(f"--n must be at least 10 (got {params['n']}): every split needs rows")
    if params["length"] < 20:
        raise MotifbenchError(f"--length must be at least 20 nt (got {params['length']}): the widest motif is 16")
    entries = load_motif_set().generator_entries()
    if preset == "koo2019":
        sample = generate_koo2019(entries, n=params["n"], length=params["length"], seed=params["seed"],
                                  n_figure_draws=params["n_figure_draws"], progress=progress)
    else:
        sample = generate_fast(entries, n=params["n"], length=params["length"], seed=params["seed"])
    record = {"preset": preset, **params, "split_fractions": list(SPLIT_FRACTIONS)}
    return sample, record


def _rows(sample: SyntheticSample, indices: np.ndarray, id_width: int) -> pa.Table:
    ms = load_motif_set()
    tf_names = np.array(ms.names, dtype=object)
    jaspar_ids = np.array(ms.jaspar_ids, dtype=object)
    seqs = ALPHABET[sample.codes[indices]]
    sequences = [row.tobytes().decode("ascii") for row in seqs]
    # instances are grouped by sequence: slice each sequence's run with searchsorted
    lo = np.searchsorted(sample.inst_seq, indices, side="left")
    hi = np.searchsorted(sample.inst_seq, indices, side="right")
    order = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)]) if len(indices) else np.zeros(0, int)
    entry = sample.inst_entry[order].astype(np.int64)
    flat = pa.StructArray.from_arrays(
        [
            pa.array(tf_names[entry // 2], pa.string()),
            pa.array(jaspar_ids[entry // 2], pa.string()),
            pa.array(sample.inst_start[order], pa.int32()),
            pa.array(sample.inst_end[order], pa.int32()),
            pa.array(np.where(entry % 2 == 0, "+", "-"), pa.string()),
        ],
        fields=list(arrow_schema("synthetic").field("motifs").type.value_type),
    )
    offsets = np.concatenate([[0], np.cumsum(hi - lo)]).astype(np.int32)
    motifs = pa.ListArray.from_arrays(pa.array(offsets), flat)
    labels = pa.FixedSizeListArray.from_arrays(pa.array(sample.labels[indices].reshape(-1), pa.int8()), 12)
    ids = [f"syn-{i:0{id_width}d}" for i in indices]
    return pa.Table.from_arrays([pa.array(ids, pa.string()), pa.array(sequences, pa.string()), labels, motifs],
                                schema=arrow_schema("synthetic"))


def _batches(sample: SyntheticSample, indices: np.ndarray) -> Iterator[pa.Table]:
    id_width = max(5, len(str(sample.n - 1)))
    for start in range(0, len(indices), BATCH_ROWS):
        yield _rows(sample, indices[start : start + BATCH_ROWS], id_width)


def build_synthetic(out: str | Path, preset: str = "koo2019", n: int | None = None, length: int | None = None,
                    seed: int | None = None, progress: bool = False) -> dict:
    """Generate the synthetic config and write it into the dataset repo folder ``out``; returns the manifest."""
    sample, generator = generate(preset, n=n, length=length, seed=seed, progress=progress)
    config_manifest = {
        "kind": "synthetic",
        "ground_truth": True,
        "jaspar_release": DEFAULT_RELEASE,
        "classes": [{"index": c.index, "tf": c.tf, "jaspar_id": c.jaspar_id} for c in load_motif_set().classes],
        "generator": generator,
        "sequence_length": generator["length"],
    }
    return write_config(Path(out), "synthetic", {s: _batches(sample, idx) for s, idx in sample.splits.items()},
                        config_manifest)
