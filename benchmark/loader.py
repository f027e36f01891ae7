"""Dataset folder or Hub id -> arrays that models train and are evaluated on.

Reads the parquet files with pyarrow directly and only the columns it needs:
``datasets``' ``with_format("numpy")`` upcasts int8 and formats struct columns
row by row, which is an order of magnitude slower for the same arrays (see
``perf/dataset_speed.py``). ``load_dataset`` remains the public way to browse
the data; this module is the fast path into training and evaluation.
"""
from __future__ import annotations

import dataclasses
import hashlib
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmark.dataset_repo import MANIFEST_NAME, SPLITS, read_manifest
from benchmark.errors import DatasetError
from benchmark.paths import default_dataset_dir

#: ASCII -> channel (A,C,G,T = 0..3); anything else (N) -> 4, which one-hot encodes as all zeros.
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
    _CODE[ord(chr(_b).lower())] = _i
_ONE_HOT = np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), dtype=np.float32)])


@dataclass(frozen=True)
class DatasetInfo:
    """Where a split came from and which exact version it is: copied into every result record."""

    source: str
    config: str
    split: str
    version: str
    revision: str | None
    files_sha256: dict[str, str] = field(default_factory=dict)
    content_sha256: str | None = None
    sequence_length: int | None = None
    ground_truth: bool = True

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "config": self.config,
            "split": self.split,
            "version": self.version,
            "revision": self.revision,
            "files_sha256": dict(self.files_sha256),
            "content_sha256": self.content_sha256,
            "sequence_length": self.sequence_length,
            "ground_truth": self.ground_truth,
        }


@dataclass
class SplitArrays:
    """One split as arrays.

    Attributes
    ----------
    x: float32, shape=(N, 4, L): one-hot A,C,G,T, N all zeros.
    y: float32, shape=(N, 12): labels in class order.
    mask: bool, shape=(N, L): True inside a recorded motif instance.
    ids: list of N row ids.
    motifs: per row, the recorded motif instances as dicts.
    info: provenance of the split.
    """

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    ids: list[str]
    motifs: list[list[dict]]
    info: DatasetInfo

    def __len__(self) -> int:
        return int(self.x.shape[0])


def resolve_source(source: str | Path | None, revision: str | None = None) -> tuple[Path, str]:
    """A local folder, or a Hub dataset id downloaded (or found in the HF cache) at ``revision``."""
    if source is None:
        path = default_dataset_dir()
        if not (path / MANIFEST_NAME).is_file():
            raise DatasetError(
                f"no dataset in the data home ({path}); build it with `motifbench data build synthetic` "
                "or pass --data DIR_OR_HUB_ID"
            )
        return path, str(path)
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise DatasetError(f"{path} is a file; expected a dataset repo folder containing {MANIFEST_NAME}")
        return path.resolve(), str(path.resolve())
    text = str(source)
    if text.count("/") != 1 or text.startswith((".", "/")):
        raise DatasetError(f"{text!r} is neither an existing folder nor a Hub dataset id of the form ORG/NAME")
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(repo_id=text, repo_type="dataset", revision=revision)
    except Exception as exc:  # offline, missing repo, bad revision: all are the user's to fix
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = " (HF_HUB_OFFLINE=1 is set and it is not in the local cache)" if offline else ""
        raise DatasetError(f"could not fetch dataset {text!r} at revision {revision or 'main'}{hint}: {exc}") from exc
    return Path(local), text


def _config_manifest(manifest: dict, config: str, where: str) -> dict:
    configs = manifest.get("configs", {})
    if config not in configs:
        raise DatasetError(f"{where} has no config {config!r}; it has {sorted(configs)}")
    return configs[config]


def dataset_info(source: str | Path | None = None, config: str = "synthetic", split: str = "test",
                 revision: str | None = None) -> DatasetInfo:
    """Manifest facts of one split without reading any data."""
    path, label = resolve_source(source, revision)
    manifest = read_manifest(path)
    cfg = _config_manifest(manifest, config, label)
    if split not in cfg["splits"]:
        raise DatasetError(f"config {config!r} of {label} has no split {split!r}; splits: {list(cfg['splits'])}")
    entry = cfg["splits"][split]
    return DatasetInfo(
        source=label,
        config=config,
        split=split,
        version=manifest["dataset_version"],
        revision=revision,
        files_sha256={entry["path"]: entry["sha256"]},
        content_sha256=entry.get("content_sha256"),
        sequence_length=cfg.get("sequence_length"),
        ground_truth=bool(cfg.get("ground_truth", True)),
    )


def one_hot(sequences: pa.ChunkedArray | pa.Array | list[str], length: int | None = None) -> np.ndarray:
    """Sequences -> float32 one-hot, shape=(N, 4, L), A,C,G,T channels, N (or any other letter) all zeros."""
    if isinstance(sequences, list):
        sequences = pa.array(sequences, pa.string())
    if isinstance(sequences, pa.ChunkedArray):
        sequences = sequences.combine_chunks()
    n = len(sequences)
    if n == 0:
        return np.zeros((0, 4, length or 0), dtype=np.float32)
    lengths = pc.utf8_length(sequences).to_numpy(zero_copy_only=False)
    L = int(lengths[0]) if length is None else int(length)
    if not np.all(lengths == L):
        bad = int(np.flatnonzero(lengths != L)[0])
        raise DatasetError(f"sequence {bad} has length {int(lengths[bad])}, expected {L}")
    raw = np.frombuffer(sequences.buffers()[2], dtype=np.uint8)
    start = sequences.offset
    offsets = np.frombuffer(sequences.buffers()[1], dtype=np.int32)[start : start + n + 1]
    codes = raw[offsets[0] : offsets[-1]].reshape(n, L)
    return np.ascontiguousarray(_ONE_HOT[_CODE[codes]].transpose(0, 2, 1))


def motif_mask(motifs: pa.ChunkedArray | pa.Array, length: int) -> np.ndarray:
    """bool mask, shape=(N, L): True at positions covered by any recorded instance."""
    if isinstance(motifs, pa.ChunkedArray):
        motifs = motifs.combine_chunks()
    n = len(motifs)
    counts = pc.list_value_length(motifs).fill_null(0).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(motifs)
    starts = flat.field("start").to_numpy(zero_copy_only=False).astype(np.int64)
    ends = flat.field("end").to_numpy(zero_copy_only=False).astype(np.int64)
    rows = np.repeat(np.arange(n), counts)
    if starts.size and (starts.min() < 0 or ends.max() > length or np.any(ends <= starts)):
        raise DatasetError(f"motif instance outside [0, {length}) or with end <= start")
    diff = np.zeros((n, length + 1), dtype=np.int32)
    np.add.at(diff, (rows, starts), 1)
    np.add.at(diff, (rows, ends), -1)
    return np.cumsum(diff[:, :length], axis=1) > 0


def read_verified(path: Path, expected_sha256: str | None) -> tuple[pa.Buffer, str]:
    """The bytes of a data file and their sha256, refusing a file whose digest differs from the manifest's.

    The file is read once into memory and hashed there; the parquet reader then
    parses those same bytes, so what is scored is exactly what was hashed
    (a file changed after a check cannot slip in between).
    """
    if not path.is_file():
        raise DatasetError(f"{path} is missing")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 and digest != expected_sha256:
        raise DatasetError(
            f"{path.name} has sha256 {digest[:16]}… but the dataset manifest says {expected_sha256[:16]}…: the file "
            "was changed or damaged after the dataset was built; rebuild or re-download it "
            "(`motifbench data verify` names every difference)"
        )
    return pa.py_buffer(data), digest


def read_split_table(path: Path, columns: list[str], limit: int | None = None,
                     expected_sha256: str | None = None) -> pa.Table:
    """Read columns of a split file with a clear error when the file is missing, broken or not the manifest's."""
    source, _ = read_verified(path, expected_sha256)
    return _read_table(source, path, columns, limit)


def _read_table(source: pa.Buffer, path: Path, columns: list[str], limit: int | None) -> pa.Table:
    try:
        pf = pq.ParquetFile(pa.BufferReader(source))
        if limit is None:
            return pf.read(columns=columns)
        batches, rows = [], 0
        for batch in pf.iter_batches(columns=columns, batch_size=min(limit, 65_536)):
            batches.append(batch)
            rows += batch.num_rows
            if rows >= limit:
                break
        return pa.Table.from_batches(batches).slice(0, limit) if batches else pf.schema_arrow.empty_table()
    except (pa.ArrowInvalid, OSError) as exc:
        raise DatasetError(f"{path} is not a readable parquet file: {exc}") from exc


def load_split(source: str | Path | None = None, config: str = "synthetic", split: str = "test",
               revision: str | None = None, limit: int | None = None) -> SplitArrays:
    """One split as one-hot arrays, labels, ground-truth mask and provenance.

    Parameters
    ----------
    source: dataset repo folder or Hub id (``ORG/NAME``); None = the data home's default folder.
    config: ``synthetic`` or ``deepsea``.
    split: ``train``, ``validation`` or ``test``.
    revision: Hub revision (tag ``vX.Y.Z``, branch or commit) when ``source`` is a Hub id.
    limit: read only the first ``limit`` rows (smoke runs, tests).
    """
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; choose one of {SPLITS}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1):
        raise DatasetError(f"limit must be a whole number of rows, at least 1 (or none for every row), got {limit!r}")
    info = dataset_info(source, config, split, revision)
    path, _ = resolve_source(source, revision)
    rel, expected = next(iter(info.files_sha256.items()))
    source_bytes, measured = read_verified(path / rel, expected)
    info = dataclasses.replace(info, files_sha256={rel: measured})  # the record carries what was measured
    table = _read_table(source_bytes, path / rel, ["id", "sequence", "labels", "motifs"], limit)
    length = info.sequence_length
    x = one_hot(table.column("sequence"), length)
    labels = table.column("labels").combine_chunks()
    y = pc.list_flatten(labels).to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(table), -1)
    mask = motif_mask(table.column("motifs"), x.shape[2])
    return SplitArrays(
        x=x,
        y=y,
        mask=mask,
        ids=table.column("id").to_pylist(),
        motifs=table.column("motifs").to_pylist(),
        info=info,
    )
