"""The `deepsea` config: the DeepSEA training bundle -> truncated rows -> the dataset repo folder.

``motifbench data build deepsea --bundle deepsea_train/ --out DIR`` streams the
bundle (REFERENCE.md section 3; readers in :mod:`benchmark.deepsea_source`),
keeps the rows where at least one of the 12 K562 TF columns is 1, annotates
each kept row with putative FIMO sites of the 12 JASPAR motifs
(:mod:`benchmark.fimo_scan`) and writes ``DIR/deepsea/{train,validation,test}.parquet``
through :func:`benchmark.dataset_repo.write_config`, which stages the config and
moves it in only when every split is complete.

Memory stays bounded by one slice of ``chunk_rows`` source rows (about 100 MB
at the default 20,000) whatever N is (for a compressed classic file, by one
pass of at most 128 MB of kept rows); the output is identical for any
``chunk_rows`` because rows are regrouped into the repo's fixed parquet row
groups. The bundle files' sha256 are computed by a background thread reading
each file once, sequentially, while the build runs.
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from benchmark.dataset_repo import ROW_GROUP_SIZE, write_config
from benchmark.deepsea_source import (
    AGCT_TO_ACGT,
    CELL_TYPE,
    DEEPSEA_NAMES,
    LABEL_COLUMNS,
    SEQUENCE_LENGTH,
    SPLIT_FILES,
    TREATMENTS,
    SourceChunk,
    SourceSplit,
    inspect_bundle,
    iter_chunks,
)
from benchmark.errors import DatasetError
from benchmark.fimo_scan import FimoParams, PutativeSites, no_sites, scan
from benchmark.jaspar import DEFAULT_RELEASE
from benchmark.motifs import MotifSet, load_motif_set
from benchmark.schema import arrow_schema, motif_struct

CONFIG = "deepsea"
DEFAULT_CHUNK_ROWS = 20_000
BUNDLE_NAME = "deepsea_train_bundle.v0.9.tar.gz"
BUNDLE_URL = "http://deepsea.princeton.edu/media/code/deepsea_train_bundle.v0.9.tar.gz"
FILTER_RULE = ("keep a source row iff at least one of the 12 label columns is 1 "
               "(rows with none of them are dropped, whatever their other 907 labels)")
_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
_HASH_BLOCK = 8 << 20


# ----------------------------------------------------------------------------------------------
# the bundle: a folder, or a .tar.gz stream-extracted next to the output


def _is_archive(path: Path) -> bool:
    return path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar"))


class _HashingReader:
    """A read-only file wrapper that feeds every byte read to a sha256 (the archive's digest)."""

    def __init__(self, fh) -> None:
        self._fh = fh
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> None:
        while block := self.read(_HASH_BLOCK):
            pass


def _extract_bundle(archive: Path, into: Path) -> tuple[dict, dict[str, dict]]:
    """Stream the three .mat members out of ``archive`` into ``into``, hashing archive and members."""
    wanted = {sf.name for sf in SPLIT_FILES}
    members: dict[str, dict] = {}
    with open(archive, "rb") as raw:
        reader = _HashingReader(raw)
        try:
            with tarfile.open(fileobj=reader, mode="r|*") as tar:
                for member in tar:
                    name = Path(member.name).name
                    if name not in wanted or not member.isfile() or name in members:
                        continue
                    digest, size = hashlib.sha256(), 0
                    src = tar.extractfile(member)
                    with open(into / name, "wb") as dst:
                        while block := src.read(_HASH_BLOCK):
                            digest.update(block)
                            dst.write(block)
                            size += len(block)
                    members[name] = {"member": member.name, "bytes": size, "sha256": digest.hexdigest()}
            reader.drain()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DatasetError(f"{archive}: cannot read as a tar archive ({exc}); expected the DeepSEA bundle "
                               f"{BUNDLE_NAME} holding deepsea_train/{{train,valid,test}}.mat") from exc
    missing = sorted(wanted - set(members))
    if missing:
        raise DatasetError(f"{archive}: the archive has no {', '.join(missing)}; expected deepsea_train/"
                           f"{{train,valid,test}}.mat")
    record = {"file": archive.name, "bytes": archive.stat().st_size, "sha256": reader.digest.hexdigest()}
    return record, members


@contextmanager
def _bundle_folder(bundle: Path, out: Path) -> Iterator[tuple[Path, dict | None, dict[str, dict] | None]]:
    """Yield (folder holding the .mat files, archive record or None, member hashes or None)."""
    if not _is_archive(bundle):
        yield bundle, None, None
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.deepsea-bundle-"))
    try:
        record, members = _extract_bundle(bundle, workdir)
        yield workdir, record, members
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class _BackgroundHasher:
    """sha256 of files, read once sequentially by one thread while the build runs."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self._paths = list(paths)
        self._stop = threading.Event()
        self._digests: dict[str, str] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="deepsea-sha256", daemon=True)

    def start(self) -> _BackgroundHasher:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for path in self._paths:
                digest = hashlib.sha256()
                with open(path, "rb") as fh:
                    while block := fh.read(_HASH_BLOCK):
                        if self._stop.is_set():
                            return
                        digest.update(block)
                self._digests[path.name] = digest.hexdigest()
        except OSError as exc:
            self._error = exc

    def result(self) -> dict[str, str]:
        self._thread.join()
        if self._error is not None:
            raise DatasetError(f"could not hash the bundle files: {self._error}")
        return dict(self._digests)

    def cancel(self) -> None:
        self._stop.set()
        self._thread.join()


# ----------------------------------------------------------------------------------------------
# rows


def _sequences(codes: np.ndarray) -> pa.Array:
    """uint8 codes, shape=(k, L) -> k strings over ACGTN, built straight from one buffer."""
    k, length = codes.shape
    offsets = np.arange(k + 1, dtype=np.int32) * length
    return pa.StringArray.from_buffers(k, pa.py_buffer(offsets), pa.py_buffer(_LETTERS[codes].tobytes()))


def _motif_lists(sites: PutativeSites, k: int, motif_set: MotifSet) -> pa.Array:
    names = np.array(motif_set.names, dtype=object)
    ids = np.array(motif_set.jaspar_ids, dtype=object)
    flat = pa.StructArray.from_arrays(
        [
            pa.array(names[sites.motif], pa.string()),
            pa.array(ids[sites.motif], pa.string()),
            pa.array(sites.start, pa.int32()),
            pa.array(sites.end, pa.int32()),
            pa.array(np.where(sites.minus, "-", "+"), pa.string()),
            pa.array(np.ones(len(sites), dtype=bool), pa.bool_()),
            pa.array(sites.p_value, pa.float32()),
        ],
        fields=list(motif_struct(CONFIG)),
    )
    offsets = np.concatenate([[0], np.cumsum(np.bincount(sites.row, minlength=k))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), flat)


def rows_table(stem: str, chunk: SourceChunk, sites: PutativeSites, motif_set: MotifSet) -> pa.Table:
    """Kept rows of one chunk as a table in the `deepsea` schema (ids name the source file and row)."""
    k = chunk.source_index.shape[0]
    ids = [f"deepsea-{stem}-{i:07d}" for i in chunk.source_index.tolist()]
    labels = pa.FixedSizeListArray.from_arrays(pa.array(chunk.labels.reshape(-1), pa.int8()), 12)
    return pa.Table.from_arrays(
        [pa.array(ids, pa.string()), _sequences(chunk.codes), labels, _motif_lists(sites, k, motif_set),
         pa.array(chunk.source_index, pa.int64())],
        schema=arrow_schema(CONFIG),
    )


def _regroup(tables: Iterable[pa.Table], rows: int = ROW_GROUP_SIZE) -> Iterator[pa.Table]:
    """Re-cut a stream of tables into tables of exactly ``rows`` rows (the last may be shorter).

    write_config makes one parquet row group per ``ROW_GROUP_SIZE`` rows of each
    table it gets; feeding it aligned tables makes the file bytes independent
    of ``chunk_rows``.
    """
    pending: list[pa.Table] = []
    held = 0
    for table in tables:
        if table.num_rows == 0:
            continue
        pending.append(table)
        held += table.num_rows
        while held >= rows:
            merged = pa.concat_tables(pending).combine_chunks()
            yield merged.slice(0, rows)
            rest = merged.slice(rows)
            pending, held = [rest], rest.num_rows
    if held:
        yield pa.concat_tables(pending).combine_chunks()


def _empty_counts(names: list[str]) -> dict:
    return {"source_rows": 0, "kept_rows": 0, "rows_with_n": 0,
            "per_class": {t: 0 for t in names}, "putative_sites": {t: 0 for t in names}}


def _split_tables(src: SourceSplit, chunk_rows: int, motif_set: MotifSet, fimo: FimoParams | None,
                  counts: dict, progress: bool, on_done: Callable[[], None]) -> Iterator[pa.Table]:
    names = motif_set.names
    with tqdm(total=src.n_rows, unit="row", unit_scale=True, desc=f"deepsea {src.split}", disable=not progress,
              dynamic_ncols=True) as bar:
        for scanned, chunk in iter_chunks(src, chunk_rows):
            sites = scan(chunk.onehot, motif_set, fimo) if fimo is not None else no_sites()
            counts["source_rows"] += scanned
            counts["kept_rows"] += len(chunk.source_index)
            counts["rows_with_n"] += int((chunk.codes == 4).any(axis=1).sum())
            for tf, n in zip(names, chunk.labels.sum(axis=0, dtype=np.int64).tolist()):
                counts["per_class"][tf] += n
            for tf, n in zip(names, np.bincount(sites.motif, minlength=len(names)).tolist()):
                counts["putative_sites"][tf] += n
            bar.update(scanned)
            bar.set_postfix(kept=f"{counts['kept_rows']:,}", refresh=False)
            if len(chunk.source_index):
                yield rows_table(src.file.stem, chunk, sites, motif_set)
    on_done()


# ----------------------------------------------------------------------------------------------
# the manifest record


def class_records(motif_set: MotifSet) -> list[dict]:
    """The class table: label index, TF, JASPAR ID and the DeepSEA column it comes from."""
    return [
        {"index": c.index, "tf": c.tf, "jaspar_id": c.jaspar_id, "deepsea_column": col, "deepsea_name": name,
         "cell_type": CELL_TYPE, "treatment": treatment}
        for c, col, name, treatment in zip(motif_set.classes, LABEL_COLUMNS, DEEPSEA_NAMES, TREATMENTS)
    ]


def _source_record(sources: dict[str, SourceSplit]) -> list[dict]:
    return [
        {"split": s.split, "file": s.file.name,
         "format": "MATLAB v7.3 (HDF5), read with h5py" if s.file.hdf5 else
                   "MATLAB v5, streamed with benchmark.deepsea_mat5",
         "storage": s.storage or None,
         "x_key": s.file.x_key, "y_key": s.file.y_key, "rows": s.n_rows, "bytes": s.path.stat().st_size,
         "sha256": None}
        for s in sources.values()
    ]


def build_deepsea(bundle: str | Path, out: str | Path, fimo_threshold: float = 1e-4,
                  chunk_rows: int = DEFAULT_CHUNK_ROWS, progress: bool = False, annotate: bool = True) -> dict:
    """Build the `deepsea` config from the DeepSEA bundle into the dataset repo folder ``out``.

    Parameters
    ----------
    bundle: the unpacked ``deepsea_train/`` folder, or the bundle's ``.tar.gz``
        (stream-extracted into a temporary folder beside ``out``, removed afterwards).
    out: the dataset repo folder; other configs in it are left untouched.
    fimo_threshold: FIMO p-value threshold for the putative sites.
    chunk_rows: source rows read per slice of ``train.mat`` (bounds memory, not the output).
    progress: show a tqdm bar per split (rows/s of source rows).
    annotate: False skips the FIMO scan (``--no-fimo``): every ``motifs`` list is empty, the
        manifest has ``annotated: false`` and ``fimo: null``, and the card says there is no annotation.

    Returns the updated manifest. Raises :class:`DatasetError` for a bad bundle,
    before or during the stream; the folder is then left as it was.
    """
    bundle, out = Path(bundle).expanduser(), Path(out).expanduser()
    if not (0.0 < fimo_threshold < 1.0):
        raise DatasetError(f"--fimo-threshold must be a p-value in (0, 1) (got {fimo_threshold})")
    if chunk_rows < 1:
        raise DatasetError(f"--chunk-rows must be at least 1 (got {chunk_rows})")
    if not bundle.exists():
        raise DatasetError(f"{bundle}: no such file or folder; expected the unpacked deepsea_train/ folder "
                           "(train.mat, valid.mat, test.mat) or the bundle .tar.gz")
    motif_set = load_motif_set(DEFAULT_RELEASE)
    fimo = FimoParams(threshold=float(fimo_threshold)) if annotate else None

    with _bundle_folder(bundle, out) as (folder, archive, members):
        sources = inspect_bundle(folder)
        files = _source_record(sources)
        hasher = _BackgroundHasher(s.path for s in sources.values()).start() if members is None else None
        counts = {split: _empty_counts(motif_set.names) for split in sources}
        config_manifest = {
            "kind": CONFIG,
            "ground_truth": False,
            "sequence_length": SEQUENCE_LENGTH,
            "jaspar_release": DEFAULT_RELEASE,
            "classes": class_records(motif_set),
            "filter": {
                "rule": FILTER_RULE,
                "label_columns": list(LABEL_COLUMNS),
                "split": "DeepSEA's own: train.mat -> train, valid.mat -> validation, test.mat -> test",
                "channels": f"DeepSEA A,G,C,T reordered to A,C,G,T with {list(AGCT_TO_ACGT)}; all-zero columns -> N",
                "ids": "deepsea-<train|valid|test>-<row in that .mat file, 7 digits>; source_index = that row",
            },
            "annotated": fimo is not None,  # False: built with --no-fimo (annotate=False), `motifs` empty
            "fimo": {"putative": True, **fimo.record()} if fimo is not None else None,
            "counts": counts,
            "sources": {"bundle": BUNDLE_NAME, "url": BUNDLE_URL, "archive": archive, "files": files},
        }
        finished: set[str] = set()

        def done(split: str) -> None:
            # write_config stores config_manifest only after every split is written, so the counts
            # and hashes filled in here, at the end of the last split's stream, are in the manifest.
            finished.add(split)
            if finished == set(sources):
                digests = hasher.result() if hasher is not None else {k: v["sha256"] for k, v in members.items()}
                for record in files:
                    record["sha256"] = digests[record["file"]]

        split_batches = {
            split: _regroup(_split_tables(src, chunk_rows, motif_set, fimo, counts[split], progress,
                                          lambda split=split: done(split)))
            for split, src in sources.items()
        }
        try:
            manifest = write_config(out, CONFIG, split_batches, config_manifest)
        finally:
            if hasher is not None:
                hasher.cancel()
    return manifest


def cli_build(args: argparse.Namespace) -> int:
    """`motifbench data build deepsea`: build, then print where the rows went."""
    from benchmark.paths import default_dataset_dir

    out = Path(args.out) if args.out else default_dataset_dir()
    annotate = not getattr(args, "no_fimo", False)
    manifest = build_deepsea(args.bundle, out, fimo_threshold=args.fimo_threshold, chunk_rows=args.chunk_rows,
                             progress=not args.quiet, annotate=annotate)
    cfg = manifest["configs"][CONFIG]
    print(f"built config 'deepsea' (dataset version {manifest['dataset_version']}) in {out}")
    for split, info in cfg["splits"].items():
        c = cfg["counts"][split]
        print(f"  {split:<10} {info['rows']:>9,} rows kept of {c['source_rows']:>10,}  {info['path']}  "
              f"sha256 {info['sha256'][:16]}…")
    if cfg["fimo"] is not None:
        print(f"motifs: putative FIMO sites at p < {cfg['fimo']['threshold']:g} (not ground truth)")
    else:
        print("motifs: none (built with --no-fimo: no FIMO scan, every `motifs` list is empty)")
    print("load it with:")
    print(f"  from datasets import load_dataset; ds = load_dataset({str(out)!r}, 'deepsea')")
    return 0
