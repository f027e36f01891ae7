"""The 12 ground-truth motifs of the synthetic benchmark, as declarative data.

Class order (label index 0..11) is REFERENCE.md section 1 and is the order of
every label vector, every per-class metric and every coverage table. Matrices
come from pyjaspar's JASPAR 2016 release, never from typed-in numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from benchmark.jaspar import DEFAULT_RELEASE, fetch_matrix, to_meme


@dataclass(frozen=True)
class MotifClass:
    """One class of the benchmark: a TF, its JASPAR matrix, and the IDs a filter may match."""

    index: int
    tf: str
    jaspar_id: str
    accepted_ids: tuple[str, ...]


#: REFERENCE.md sections 1 and 6. The original code filed MA0660.1 and MA0773.1
#: (two MEF2 matrices) under STAT1; here they sit with MEF2A where they belong.
CLASSES: tuple[MotifClass, ...] = (
    MotifClass(0, "Arid3a", "MA0151.1", ("MA0151.1", "MA0601.1", "PB0001.1")),
    MotifClass(1, "CEBPB", "MA0466.2", ("MA0466.1", "MA0466.2")),
    MotifClass(2, "FOSL1", "MA0477.1", ("MA0477.1",)),
    MotifClass(3, "Gabpa", "MA0062.2", ("MA0062.1", "MA0062.2")),
    MotifClass(4, "MAFK", "MA0496.1", ("MA0496.1", "MA0496.2")),
    MotifClass(5, "MAX", "MA0058.3", ("MA0058.1", "MA0058.2", "MA0058.3")),
    MotifClass(6, "MEF2A", "MA0052.3", ("MA0052.1", "MA0052.2", "MA0052.3", "MA0660.1", "MA0773.1")),
    MotifClass(7, "NFYB", "MA0502.1", ("MA0502.1", "MA0060.1", "MA0060.2")),
    MotifClass(8, "SP1", "MA0079.3", ("MA0079.1", "MA0079.2", "MA0079.3")),
    MotifClass(9, "SRF", "MA0083.3", ("MA0083.1", "MA0083.2", "MA0083.3")),
    MotifClass(10, "STAT1", "MA0137.3", ("MA0137.1", "MA0137.2", "MA0137.3")),
    MotifClass(11, "YY1", "MA0095.2", ("MA0095.1", "MA0095.2")),
)

_COMPLEMENT = np.array([3, 2, 1, 0])  # A<->T, C<->G in A,C,G,T order


def reverse_complement_pwm(pwm: np.ndarray) -> np.ndarray:
    """Reverse complement of a channel-first PWM, shape=(4, width)."""
    return np.ascontiguousarray(pwm[_COMPLEMENT, ::-1])


def information_content(pwm: np.ndarray) -> np.ndarray:
    """Bits per column of a channel-first PWM, shape=(4, width) -> (width,)."""
    p = np.asarray(pwm, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return 2.0 + plogp.sum(axis=0)


class MotifSet:
    """The benchmark's motifs: ask it for names, IDs, PWMs, widths, IC, accepted IDs or MEME text.

    PWMs are channel-first float64 ``(4, width)`` in A,C,G,T order, like the
    one-hot sequences they are sampled into.
    """

    def __init__(self, classes: tuple[MotifClass, ...] = CLASSES, release: int = DEFAULT_RELEASE):
        self.classes = classes
        self.release = release

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def names(self) -> list[str]:
        return [c.tf for c in self.classes]

    @property
    def jaspar_ids(self) -> list[str]:
        return [c.jaspar_id for c in self.classes]

    @cached_property
    def pwms(self) -> list[np.ndarray]:
        """Probabilities = column-normalised counts (no pseudocount), shape=(4, width) each."""
        return [np.ascontiguousarray(fetch_matrix(c.jaspar_id, self.release).ppm.T) for c in self.classes]

    @cached_property
    def nsites(self) -> list[int]:
        return [fetch_matrix(c.jaspar_id, self.release).nsites for c in self.classes]

    @property
    def widths(self) -> list[int]:
        return [p.shape[1] for p in self.pwms]

    def reverse_complements(self) -> list[np.ndarray]:
        return [reverse_complement_pwm(p) for p in self.pwms]

    def information_content(self) -> list[np.ndarray]:
        return [information_content(p) for p in self.pwms]

    def generator_entries(self) -> list[np.ndarray]:
        """The 24 entries of the published generator: TF k forward at 2k, its reverse complement at 2k+1."""
        entries: list[np.ndarray] = []
        for pwm in self.pwms:
            entries.extend([pwm, reverse_complement_pwm(pwm)])
        return entries

    @cached_property
    def accepted_ids(self) -> dict[str, tuple[str, ...]]:
        """TF name -> JASPAR IDs that count as recovering it."""
        return {c.tf: c.accepted_ids for c in self.classes}

    @cached_property
    def tf_of_accepted_id(self) -> dict[str, str]:
        """JASPAR ID -> TF name, for scoring a Tomtom hit as ground truth."""
        return {mid: c.tf for c in self.classes for mid in c.accepted_ids}

    def index_of(self, tf: str) -> int:
        for c in self.classes:
            if c.tf == tf:
                return c.index
        raise KeyError(f"unknown TF {tf!r}; known: {self.names}")

    def to_meme(self) -> str:
        """MEME text of the 12 motifs (IDs = JASPAR IDs, names = TFs)."""
        return to_meme(
            [(c.jaspar_id, c.tf, pwm.T, n) for c, pwm, n in zip(self.classes, self.pwms, self.nsites)]
        )

    def write_meme(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_meme())
        return path

    def table(self) -> list[dict]:
        """One dict per class (index, TF, JASPAR ID, width, total IC, accepted IDs) for cards and docs."""
        return [
            {
                "index": c.index,
                "tf": c.tf,
                "jaspar_id": c.jaspar_id,
                "width": w,
                "information_bits": round(float(ic.sum()), 2),
                "accepted_ids": list(c.accepted_ids),
            }
            for c, w, ic in zip(self.classes, self.widths, self.information_content())
        ]


@lru_cache(maxsize=None)
def load_motif_set(release: int = DEFAULT_RELEASE) -> MotifSet:
    """The shared, cached motif set (JASPAR 2016 by default, the papers' release)."""
    return MotifSet(CLASSES, release)
