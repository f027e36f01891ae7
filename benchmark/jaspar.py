"""JASPAR matrices from pyjaspar's bundled SQLite releases (fully offline).

Both the ground-truth motif set and the Tomtom target database come from
here, so the benchmark never depends on a matrix file typed in by hand. The
export matches what MEME read for the papers: column-normalised counts with no
pseudocount, ``nsites`` = the first column's count total.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from benchmark.errors import MotifbenchError

#: JASPAR releases pyjaspar ships; the benchmark pins 2016 (the papers' release).
SUPPORTED_RELEASES: tuple[int, ...] = (2014, 2016, 2018, 2020, 2022, 2024, 2026)
DEFAULT_RELEASE = 2016


@dataclass(frozen=True)
class JasparMatrix:
    """One JASPAR matrix.

    Attributes
    ----------
    matrix_id: e.g. ``"MA0151.1"``.
    name: TF name as JASPAR spells it.
    counts: float64, shape=(width, 4), columns A,C,G,T.
    """

    matrix_id: str
    name: str
    counts: np.ndarray

    @property
    def width(self) -> int:
        return int(self.counts.shape[0])

    @property
    def ppm(self) -> np.ndarray:
        """Column-normalised counts, shape=(width, 4), no pseudocount."""
        return self.counts / self.counts.sum(axis=1, keepdims=True)

    @property
    def nsites(self) -> int:
        """Sites behind the matrix as MEME's export records it (first column total)."""
        return int(round(float(self.counts[0].sum())))


def _check_release(release: int) -> int:
    release = int(release)
    if release not in SUPPORTED_RELEASES:
        raise MotifbenchError(
            f"JASPAR release {release} is not available offline; choose one of {SUPPORTED_RELEASES}"
        )
    return release


def _db(release: int):
    """This thread's pyjaspar handle: SQLite connections may not be used from another thread (the
    Space's request threads read matrices the main thread never fetched)."""
    import threading

    return _db_of_thread(release, threading.get_ident())


@lru_cache(maxsize=None)
def _db_of_thread(release: int, thread_id: int):
    from pyjaspar import jaspardb

    return jaspardb(release=f"JASPAR{_check_release(release)}")


def close_connections() -> None:
    """Drop pyjaspar's cached SQLite handles (matrices already fetched stay cached).

    SQLite connections must not cross a ``fork``; a process that forks
    workers after warming the matrix caches calls this first, and each child
    opens its own connection on demand.
    """
    _db_of_thread.cache_clear()


def _to_matrix(motif) -> JasparMatrix:
    counts = np.array([motif.counts[b] for b in "ACGT"], dtype=np.float64).T
    return JasparMatrix(matrix_id=str(motif.matrix_id), name=str(motif.name), counts=counts)


@lru_cache(maxsize=None)
def fetch_matrix(matrix_id: str, release: int = DEFAULT_RELEASE) -> JasparMatrix:
    """One matrix by versioned ID (``MA0151.1``) from a pinned release.

    A matrix of the CORE vertebrates set (every ground-truth motif) is that set's copy
    (:func:`core_vertebrates`: the same database row, kept in the data home); others come from pyjaspar.
    """
    for matrix in core_vertebrates(release):
        if matrix.matrix_id == matrix_id:
            return matrix
    motif = _db(release).fetch_motif_by_id(matrix_id)
    if motif is None:
        raise MotifbenchError(f"JASPAR {release} has no matrix {matrix_id!r}")
    return _to_matrix(motif)


@lru_cache(maxsize=None)
def core_vertebrates(release: int = DEFAULT_RELEASE) -> tuple[JasparMatrix, ...]:
    """JASPAR CORE vertebrates, latest version of each matrix (519 for 2016), in JASPAR's order.

    Read from pyjaspar once per installation, then from a copy in the data home
    (:func:`_core_cache_path`: the same IDs, names and float64 counts, keyed by the
    release's SQLite file), so a fresh process neither imports pyjaspar (and Biopython)
    nor queries its database for the 519 matrices (about 0.2 CPU-s here).
    """
    release = _check_release(release)
    cache = _core_cache_path(release)
    if cache is not None and cache.is_file():
        try:
            return _read_core_cache(cache)
        except (OSError, ValueError, KeyError):  # a damaged copy is read again from pyjaspar
            pass
    motifs = _db(release).fetch_motifs(collection="CORE", tax_group=["vertebrates"], all_versions=False)
    matrices = tuple(_to_matrix(m) for m in motifs)
    if cache is not None:
        _write_core_cache(cache, matrices)
    return matrices


def _core_cache_path(release: int):
    """``<data home>/cache/jaspar/core-vertebrates-<release>-<key>.npz``, or None when pyjaspar's file is not found.

    The key hashes the path, size and modification time of pyjaspar's SQLite file of the release,
    so another pyjaspar (or database) reads the matrices again instead of reusing an old copy.
    """
    import importlib.util
    from pathlib import Path

    from benchmark.paths import data_home

    spec = importlib.util.find_spec("pyjaspar")
    if spec is None or not spec.submodule_search_locations:
        return None
    db = Path(next(iter(spec.submodule_search_locations))) / "data" / f"JASPAR{release}.sqlite"
    try:
        stat = db.stat()
    except OSError:
        return None
    key = hashlib.sha256(f"{_CORE_CACHE_FORMAT}|{db.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return data_home() / "cache" / "jaspar" / f"core-vertebrates-{release}-{key.hexdigest()[:20]}.npz"


#: Bump when the cached copy's layout changes.
_CORE_CACHE_FORMAT = 1


def _read_core_cache(path) -> tuple[JasparMatrix, ...]:
    with np.load(path, allow_pickle=False) as data:
        ids, names, widths, counts = data["ids"], data["names"], data["widths"], data["counts"]
    ends = np.cumsum(widths)
    if len(ids) != len(names) or len(ids) != len(widths) or (len(ends) and ends[-1] != len(counts)):
        raise ValueError(f"{path} is inconsistent")
    return tuple(JasparMatrix(matrix_id=str(i), name=str(n), counts=counts[e - w:e].copy())
                 for i, n, w, e in zip(ids, names, widths, ends))


def _write_core_cache(path, matrices: tuple[JasparMatrix, ...]) -> None:
    from benchmark.files import atomic_write

    buffer = io.BytesIO()
    np.savez(buffer, ids=np.array([m.matrix_id for m in matrices]), names=np.array([m.name for m in matrices]),
             widths=np.array([m.width for m in matrices], dtype=np.int64),
             counts=np.concatenate([m.counts for m in matrices]) if matrices else np.zeros((0, 4)))
    try:
        atomic_write(path, buffer.getvalue())
    except OSError:  # a read-only data home only loses the cache
        pass


def to_meme(matrices: "list[tuple[str, str, np.ndarray, int]]") -> str:
    """MEME minimal motif format text for ``(id, name, ppm (width x 4), nsites)`` tuples."""
    out = io.StringIO()
    out.write("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n")
    out.write("Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n")
    for motif_id, name, ppm, nsites in matrices:
        ppm = np.asarray(ppm, dtype=np.float64)
        title = f"MOTIF {motif_id} {name}".rstrip()
        out.write(f"{title}\nletter-probability matrix: alength= 4 w= {ppm.shape[0]} nsites= {int(nsites)} E= 0\n")
        for row in ppm:
            out.write(" " + " ".join(f"{v:.6f}" for v in row) + "\n")
        out.write("\n")
    return out.getvalue()


@lru_cache(maxsize=None)
def core_vertebrates_meme(release: int = DEFAULT_RELEASE) -> str:
    """The Tomtom target file for a release, as MEME text."""
    return to_meme([(m.matrix_id, m.name, m.ppm, m.nsites) for m in core_vertebrates(release)])


@lru_cache(maxsize=None)
def core_vertebrates_sha256(release: int = DEFAULT_RELEASE) -> str:
    """sha256 of the exported MEME text: recorded in every result so a changed database is visible."""
    return hashlib.sha256(core_vertebrates_meme(release).encode()).hexdigest()
