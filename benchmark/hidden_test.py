"""The hidden test of a round: a fresh draw from the published generator with the round's secret seed.

Same process as the public data (the koo2019 preset: :func:`benchmark.generator.generate_koo2019`,
the same 12 motifs and 24 generator entries, 200 nt), the size of the public
test split (5,000 sequences), with the round's 32-byte seed feeding the legacy
Mersenne Twister (:func:`benchmark.rounds.seed_words`). No figure draws and
no split: every sequence drawn is a test sequence. Ground truth comes with it
(labels, motif instances, the position mask), so every metric can be
computed on it.

Row ids are ``hidden-00000`` ... (no round in them, so a record reproduced
from a published seed is identical to the one the service wrote).

For the sandboxed evaluation the worker draws the test and hands the child a
compact ``.npz`` (:func:`save_draw` / :func:`load_draw`): the seed itself never
leaves the worker process.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from benchmark.generator import SyntheticSample, generate_koo2019
from benchmark.loader import DatasetInfo, SplitArrays
from benchmark.motifs import load_motif_set
from benchmark.rounds import commitment, seed_words

HIDDEN_N = 5_000
HIDDEN_LENGTH = 200
HIDDEN_SPLIT = "hidden"
HIDDEN_CONFIG = "synthetic"
_ARRAYS = ("codes", "labels", "inst_seq", "inst_entry", "inst_start", "inst_end")
_ONE_HOT = np.eye(4, dtype=np.float32)


def hidden_sample(seed: bytes, n: int = HIDDEN_N, length: int = HIDDEN_LENGTH, progress: bool = False) -> SyntheticSample:
    """Draw a round's hidden test (``n`` sequences of ``length`` nt) from its seed bytes."""
    entries = load_motif_set().generator_entries()
    return generate_koo2019(entries, n=n, length=length, seed=seed_words(seed), n_figure_draws=0, progress=progress)


def content_sha256(sample: SyntheticSample) -> str:
    """sha256 over the draw's sequences, labels and motif instances (detects a changed generator)."""
    digest = hashlib.sha256()
    for name in _ARRAYS:
        digest.update(np.ascontiguousarray(getattr(sample, name)).tobytes())
    return digest.hexdigest()


def to_split(sample: SyntheticSample, info: DatasetInfo) -> SplitArrays:
    """A drawn sample as the loader's arrays (one-hot, labels, mask, ids, motif records), in draw order.

    x : float32, shape (N, 4, L); y : float32, shape (N, 12); mask : bool, shape (N, L).
    """
    n, length = sample.codes.shape
    x = np.ascontiguousarray(_ONE_HOT[sample.codes].transpose(0, 2, 1))
    diff = np.zeros((n, length + 1), np.int32)
    np.add.at(diff, (sample.inst_seq, sample.inst_start), 1)
    np.add.at(diff, (sample.inst_seq, sample.inst_end), -1)
    mask = np.cumsum(diff[:, :length], axis=1) > 0
    ms = load_motif_set()
    motifs: list[list[dict]] = [[] for _ in range(n)]
    for seq, entry, start, end in zip(sample.inst_seq.tolist(), sample.inst_entry.tolist(),
                                      sample.inst_start.tolist(), sample.inst_end.tolist()):
        motifs[seq].append({"tf": ms.names[entry // 2], "jaspar_id": ms.jaspar_ids[entry // 2], "start": start,
                            "end": end, "strand": "+" if entry % 2 == 0 else "-"})
    ids = [f"hidden-{i:05d}" for i in range(n)]
    return SplitArrays(x=x, y=sample.labels.astype(np.float32), mask=mask, ids=ids, motifs=motifs, info=info)


def hidden_info(sample: SyntheticSample, seed_commitment: str, dataset_version: str) -> DatasetInfo:
    """Provenance of a hidden draw: split ``hidden``, the round's commitment as its source."""
    return DatasetInfo(source=f"hidden test (round commitment {seed_commitment})", config=HIDDEN_CONFIG,
                       split=HIDDEN_SPLIT, version=dataset_version, revision=None, files_sha256={},
                       content_sha256=content_sha256(sample), sequence_length=int(sample.codes.shape[1]),
                       ground_truth=True)


def hidden_split(seed: bytes, dataset_version: str, n: int = HIDDEN_N, length: int = HIDDEN_LENGTH,
                 progress: bool = False) -> SplitArrays:
    """A round's hidden test as arrays ready for ``evaluator.evaluate_arrays``."""
    sample = hidden_sample(seed, n=n, length=length, progress=progress)
    return to_split(sample, hidden_info(sample, commitment(seed), dataset_version))


def save_draw(sample: SyntheticSample, info: DatasetInfo, path: str | Path) -> Path:
    """Write a draw (not its seed) for the sandboxed child: compact arrays + provenance, mode 0600."""
    import json
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        np.savez(handle, **{name: getattr(sample, name) for name in _ARRAYS},
                 info=np.frombuffer(json.dumps(info.as_dict()).encode(), dtype=np.uint8))
    return path


def load_draw(path: str | Path) -> SplitArrays:
    """Read what :func:`save_draw` wrote, as the loader's arrays."""
    import json

    with np.load(Path(path), allow_pickle=False) as data:
        arrays = {name: data[name] for name in _ARRAYS}
        info = DatasetInfo(**json.loads(data["info"].tobytes().decode()))
    sample = SyntheticSample(**arrays)
    return to_split(sample, info)
