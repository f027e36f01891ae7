"""The reference data one evaluation compares against, loaded once and passed down.

A :class:`ReferenceBundle` holds the ground-truth motif set (names, PWMs,
accepted JASPAR IDs), the JASPAR CORE vertebrates matrices Tomtom compares
filters with (exactly as MEME reads them), their names and the database's
sha256. Every stage of :func:`evaluator.evaluate` reads this one object, so a
record can never mix two releases.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - type names only
    from benchmark.motifs import MotifSet
    from evaluator.meme_io import MemeMotif


@dataclass(frozen=True)
class ReferenceBundle:
    """Motif set and JASPAR targets of one JASPAR release.

    Attributes
    ----------
    release : int
        JASPAR release (2016 in both papers).
    motif_set : MotifSet
        The 12 ground-truth TFs (``benchmark.motifs``).
    targets : tuple of MemeMotif
        JASPAR CORE vertebrates as Tomtom targets, each ``ppm : ndarray, shape (w, 4)``.
    target_names : dict
        JASPAR matrix ID -> TF name.
    sha256 : str
        sha256 of the MEME export of the target database (recorded as ``jaspar.sha256``).
    """

    release: int
    motif_set: "MotifSet"
    targets: tuple["MemeMotif", ...]
    target_names: dict[str, str]
    sha256: str

    @property
    def n_targets(self) -> int:
        return len(self.targets)


@lru_cache(maxsize=None)
def load_reference(release: int = 2016) -> ReferenceBundle:
    """The :class:`ReferenceBundle` of a JASPAR release (read once per process)."""
    from benchmark.jaspar import core_vertebrates, core_vertebrates_sha256
    from benchmark.motifs import load_motif_set
    from evaluator.tomtom import jaspar_targets

    release = int(release)
    return ReferenceBundle(
        release=release,
        motif_set=load_motif_set(release),
        targets=tuple(jaspar_targets(release)),
        target_names={m.matrix_id: m.name for m in core_vertebrates(release)},
        sha256=core_vertebrates_sha256(release),
    )
