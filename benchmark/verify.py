"""`motifbench data verify`: prove a dataset folder is exactly what its manifest says.

Checks, per config and split: the file exists, its sha256 and size match, it
parses as parquet with the contract's schema, the row count matches, and the
rows are internally consistent (labels agree with the recorded motifs, motif
instances lie inside the sequence with the right width, sequences have the
stated length and alphabet). Every problem is reported with the file it is in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmark.dataset_repo import CARD_NAME, read_manifest, sha256_file
from benchmark.errors import DatasetError, VerificationError
from benchmark.motifs import load_motif_set
from benchmark.schema import arrow_schema


@dataclass
class VerifyReport:
    """What `verify` checked and what it found wrong (empty ``problems`` = verified)."""

    checked_files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_rows(rel: str, table: pa.Table, config: str, length: int | None, report: VerifyReport) -> None:
    ms = load_motif_set()
    tf_index = {name: i for i, name in enumerate(ms.names)}
    width = dict(zip(ms.jaspar_ids, ms.widths))
    seqs = table.column("sequence").combine_chunks()
    lengths = pc.utf8_length(seqs).to_numpy(zero_copy_only=False)
    if length is not None and np.any(lengths != length):
        bad = int(np.flatnonzero(lengths != length)[0])
        report.problems.append(f"{rel}: row {bad} has sequence length {int(lengths[bad])}, expected {length}")
    bad_alpha = pc.invert(pc.match_substring_regex(seqs, r"^[ACGTN]*$")).to_numpy(zero_copy_only=False)
    if np.any(bad_alpha):
        report.problems.append(f"{rel}: row {int(np.flatnonzero(bad_alpha)[0])} has letters outside ACGTN")
    ids = table.column("id")
    if pc.count_distinct(ids).as_py() != len(ids):
        report.problems.append(f"{rel}: ids are not unique")
    labels = pc.list_flatten(table.column("labels").combine_chunks()).to_numpy(zero_copy_only=False)
    labels = labels.reshape(len(table), -1)
    if not np.isin(labels, (0, 1)).all():
        report.problems.append(f"{rel}: labels hold values other than 0/1")
    motifs = table.column("motifs").combine_chunks()
    counts = pc.list_value_length(motifs).fill_null(0).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(motifs)
    rows = np.repeat(np.arange(len(table)), counts)
    tfs = flat.field("tf").to_pylist()
    starts = flat.field("start").to_numpy(zero_copy_only=False)
    ends = flat.field("end").to_numpy(zero_copy_only=False)
    unknown = sorted({t for t in tfs if t not in tf_index})
    if unknown:
        report.problems.append(f"{rel}: motif records name unknown TFs {unknown}")
        return
    if len(starts) and (starts.min() < 0 or (length is not None and ends.max() > length) or np.any(ends <= starts)):
        report.problems.append(f"{rel}: a motif instance lies outside its sequence or has end <= start")
    jids = flat.field("jaspar_id").to_pylist()
    wrong_width = [i for i, (j, s, e) in enumerate(zip(jids, starts, ends)) if j in width and e - s != width[j]]
    if wrong_width:
        report.problems.append(f"{rel}: {len(wrong_width)} motif instances do not span their matrix width")
    if config == "synthetic":
        implied = np.zeros_like(labels)
        implied[rows, [tf_index[t] for t in tfs]] = 1
        mismatch = np.flatnonzero((implied != labels).any(axis=1))
        if mismatch.size:
            report.problems.append(
                f"{rel}: {mismatch.size} rows have labels that disagree with their motif records (first: row {int(mismatch[0])})"
            )


def verify(repo: str | Path) -> VerifyReport:
    """Re-hash every file and check schema, counts and consistency; never raises for data problems."""
    repo = Path(repo)
    report = VerifyReport()
    if not repo.is_dir():
        report.problems.append(f"{repo}: not a folder")
        return report
    try:
        manifest = read_manifest(repo)
    except DatasetError as exc:
        report.problems.append(str(exc))
        return report
    if not (repo / CARD_NAME).is_file():
        report.problems.append(f"{CARD_NAME}: dataset card is missing")
    for config, cfg in manifest.get("configs", {}).items():
        length = cfg.get("sequence_length")
        for split, entry in cfg.get("splits", {}).items():
            rel = entry["path"]
            path = repo / rel
            report.checked_files.append(rel)
            if not path.is_file():
                report.problems.append(f"{rel}: file is missing")
                continue
            if path.stat().st_size != entry.get("bytes", path.stat().st_size):
                report.problems.append(f"{rel}: size {path.stat().st_size} bytes, manifest says {entry['bytes']}")
            digest = sha256_file(path)
            if digest != entry["sha256"]:
                report.problems.append(f"{rel}: sha256 {digest[:16]}… does not match the manifest's {entry['sha256'][:16]}…")
            try:
                table = pq.read_table(path)
            except (pa.ArrowInvalid, OSError) as exc:
                report.problems.append(f"{rel}: not readable as parquet ({exc})")
                continue
            expected = arrow_schema(config)
            if not table.schema.remove_metadata().equals(expected.remove_metadata()):
                report.problems.append(f"{rel}: schema {table.schema.remove_metadata()} differs from the contract")
                continue
            if table.num_rows != entry["rows"]:
                report.problems.append(f"{rel}: {table.num_rows} rows, manifest says {entry['rows']}")
            report.rows[rel] = table.num_rows
            _check_rows(rel, table, config, length, report)
    if not report.checked_files:
        report.problems.append("manifest lists no data files")
    return report


def verify_or_raise(repo: str | Path) -> VerifyReport:
    report = verify(repo)
    if not report.ok:
        raise VerificationError(f"{repo} failed verification:\n  " + "\n  ".join(report.problems))
    return report
