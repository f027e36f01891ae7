"""A Hugging Face dataset repo folder: parquet per config and split, manifest, card.

Layout (one repo, several configs)::

    DIR/README.md                     dataset card, `configs:` YAML (card.py)
    DIR/manifest.json                 versions, parameters, row counts, sha256 of every data file
    DIR/<config>/<split>.parquet      train / validation / test

A config is written into a temporary folder beside its final place and moved
in only when complete, so a failed or interrupted build never leaves a
half-written config; the manifest and card are replaced atomically after.
Parquet bytes are deterministic for a given pyarrow version (no timestamps,
fixed row groups and compression); ``content_sha256`` hashes the rows
themselves, so identical data is recognisable across library versions too.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmark.datasets import DATASET_VERSION
from benchmark.errors import DatasetError
from benchmark.files import atomic_write, file_sha256
from benchmark.schema import arrow_schema

MANIFEST_NAME = "manifest.json"
CARD_NAME = "README.md"
MANIFEST_SCHEMA_VERSION = 1
#: Version of the dataset repo as published (git tag vX.Y.Z on the Hub).
SPLITS = ("train", "validation", "test")
ROW_GROUP_SIZE = 5_000
PARQUET_COMPRESSION = "zstd"
PARQUET_COMPRESSION_LEVEL = 9


sha256_file = file_sha256  # the name verify.py and the tests use


def split_path(config: str, split: str) -> str:
    """Repo-relative path of a split file (the card's `data_files` use the same)."""
    return f"{config}/{split}.parquet"


class ContentHasher:
    """Order-sensitive sha256 over row values, independent of the parquet encoding."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def update(self, table: pa.Table) -> None:
        for row in table.to_pylist():
            self._digest.update(json.dumps(row, sort_keys=True, separators=(",", ":")).encode())
            self._digest.update(b"\n")

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def write_split(path: Path, config: str, batches: Iterable[pa.Table]) -> dict:
    """Stream tables into one parquet file; returns rows, bytes, sha256 and content sha256."""
    schema = arrow_schema(config)
    hasher = ContentHasher()
    rows = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(
        path,
        schema,
        compression=PARQUET_COMPRESSION,
        compression_level=PARQUET_COMPRESSION_LEVEL,
        write_statistics=True,
    ) as writer:
        for table in batches:
            table = table.cast(schema) if table.schema != schema else table
            for start in range(0, table.num_rows, ROW_GROUP_SIZE):
                chunk = table.slice(start, ROW_GROUP_SIZE)
                writer.write_table(chunk, row_group_size=ROW_GROUP_SIZE)
                hasher.update(chunk)
            rows += table.num_rows
    return {
        "path": None,  # filled by the caller (repo-relative)
        "rows": rows,
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
        "content_sha256": hasher.hexdigest(),
    }


def read_manifest(repo: Path) -> dict:
    path = Path(repo) / MANIFEST_NAME
    if not path.is_file():
        raise DatasetError(f"{path} is missing: not a motifbench dataset folder (build one with `motifbench data build`)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path} is not valid JSON: {exc}") from exc


def write_config(
    repo: Path,
    config: str,
    split_batches: dict[str, Iterator[pa.Table]],
    config_manifest: dict,
) -> dict:
    """Write one config's splits into ``repo`` atomically, then update manifest and card.

    ``split_batches`` maps split name -> iterator of Arrow tables in the config's
    schema; ``config_manifest`` holds the config's own facts (generator or
    source parameters) and is stored under ``manifest["configs"][config]``.
    Any exception while writing leaves the repo exactly as it was.
    """
    from benchmark.card import render_card
    from benchmark.versions import motifbench_version

    repo = Path(repo)
    repo.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=repo, prefix=f".staging-{config}-"))
    try:
        files = {}
        for split in SPLITS:
            if split not in split_batches:
                raise DatasetError(f"config {config!r} has no {split!r} split")
            info = write_split(staging / f"{split}.parquet", config, split_batches[split])
            info["path"] = split_path(config, split)
            files[split] = info
        os.chmod(staging, 0o755)
        final = repo / config
        old = None
        if final.exists():
            old = repo / f".old-{config}-{os.getpid()}"
            os.replace(final, old)
        os.replace(staging, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    manifest = read_manifest(repo) if (repo / MANIFEST_NAME).is_file() else {}
    manifest.update(
        {
            "manifest_schema_version": MANIFEST_SCHEMA_VERSION,
            "dataset_version": DATASET_VERSION,
            "motifbench_version": motifbench_version(),
        }
    )
    configs = manifest.setdefault("configs", {})
    configs[config] = {**config_manifest, "splits": {s: {k: v for k, v in f.items()} for s, f in files.items()}}
    manifest["configs"] = {k: configs[k] for k in sorted(configs)}
    atomic_write(repo / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=False) + "\n", mode=0o644)
    atomic_write(repo / CARD_NAME, render_card(manifest), mode=0o644)
    return manifest
