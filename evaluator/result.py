"""What an evaluation returns: :class:`EvaluationResult`, typed sections over the result record.

The JSON result record (``docs/evaluator.md``, :mod:`evaluator.record`) stays
the one stored format; :class:`EvaluationResult` is the Python view of it.
Headline numbers are typed fields; ``.to_record()`` returns the record
unchanged, ``.summary()`` the table ``motifbench evaluate`` prints. For
callers written against the record dict, the result also reads like one
(``result["results"]["motif_recovery"]``).
"""
from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Classification:
    """AUROC / auPR over the 12 classes (None where a class has no positives or negatives)."""

    macro_auroc: float | None
    macro_aupr: float | None
    macro_aupr_trapezoid: float | None
    per_class: list[dict]
    undefined_classes: list[str]


@dataclass(frozen=True)
class Recovery:
    """First-layer motif recovery: fractions of all filters, and TF coverage."""

    n_filters: int
    n_filters_tested: int
    match_jaspar_fraction: float
    match_ground_truth_fraction: float
    coverage: float
    coverage_count: int
    covered_tfs: list[str]
    missed_tfs: list[str]
    filters_per_tf: dict[str, int]
    filters: list[dict]


@dataclass(frozen=True)
class Attribution:
    """In silico mutagenesis scored against the ground-truth motif positions."""

    method: str
    n_sequences_scored: int
    mean_auroc: float | None
    mean_aupr: float | None
    mean_aupr_trapezoid: float | None


@dataclass(frozen=True)
class Provenance:
    """What was evaluated, on what, with which settings and software."""

    evaluator_version: str
    motifbench_version: str
    created: str
    model: dict
    dataset: dict
    jaspar: dict
    parameters: dict
    environment: dict
    artifacts: dict
    timings_seconds: dict


def _pick(cls, section: Mapping[str, Any]):
    return cls(**{name: section.get(name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class EvaluationResult(Mapping):
    """The result of :func:`evaluator.evaluate`.

    Attributes
    ----------
    classification : Classification
    recovery : Recovery or None
        None when the model has no first-layer tap (first-layer columns n/a).
    attribution : Attribution or None
        None when attribution was off or no sequence qualified.
    provenance : Provenance
    """

    classification: Classification
    recovery: Recovery | None
    attribution: Attribution | None
    provenance: Provenance
    _record: dict = field(repr=False, compare=False)

    @classmethod
    def from_record(cls, record: dict) -> "EvaluationResult":
        """Wrap a result record (as written by the evaluator or read with :func:`evaluator.record.read_record`)."""
        results = record["results"]
        attribution = results.get("attribution")
        return cls(
            classification=_pick(Classification, results["classification"]),
            recovery=_pick(Recovery, results["motif_recovery"]) if results.get("motif_recovery") else None,
            attribution=_pick(Attribution, attribution) if attribution is not None else None,
            provenance=_pick(Provenance, record),
            _record=record,
        )

    def to_record(self) -> dict:
        """The JSON result record (a deep copy: the schema in ``docs/evaluator.md``)."""
        return copy.deepcopy(self._record)

    def summary(self) -> str:
        """The plain-text table ``motifbench evaluate`` prints."""
        from evaluator.record import format_summary

        return format_summary(self._record)

    # Mapping over the record, read-only, for code written against the dict.
    def __getitem__(self, key: str) -> Any:
        return self._record[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._record)

    def __len__(self) -> int:
        return len(self._record)
