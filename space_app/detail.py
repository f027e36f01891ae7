"""The model detail view: everything the page shows about one finished submission.

All of it comes from the stored result record (and the logo PNGs the
evaluator drew beside it); nothing is re-evaluated.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from space_app import plots
from space_app.attribution_detail import attribution_images, attribution_markdown
from space_app.records import load_record, logo_images, record_path, safe_id
from submissions.store import Store

FILTER_COLUMNS = ["Filter", "Best Tomtom match", "JASPAR ID", "E-value", "Ground truth", "Informative"]


@dataclass
class Detail:
    """What the detail view shows for one submission (None fields leave a component empty)."""

    header: str
    filter_logos: Path | None = None
    truth_logos: Path | None = None
    filters: pd.DataFrame | None = None
    per_class: Figure | None = None
    coverage: Figure | None = None
    record_file: Path | None = None
    attribution: str = ""
    pattern_logos: Path | None = None
    attribution_examples: Path | None = None


def choices(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Dropdown choices ``("model · config vX · id", id)`` for every exported row, newest first."""
    if frame.empty:
        return []
    rows = frame.sort_values("finished_at", ascending=False, na_position="last")
    return [(f"{r.model_name} · {r.dataset_config} v{str(r.dataset_version).lstrip('v')} · {r.id}", r.id)
            for r in rows.itertuples(index=False)]


def filter_table(record: dict[str, Any]) -> pd.DataFrame:
    """One row per first-layer filter: its best Tomtom hit and whether that is a ground-truth motif."""
    entries = (((record.get("results") or {}).get("motif_recovery")) or {}).get("filters") or []
    rows = []
    for e in entries:
        hit = e.get("best_hit") or {}
        truth = e.get("ground_truth_tfs") or []
        rows.append({
            "Filter": e.get("filter"),
            "Best Tomtom match": hit.get("target_name") or ("no match" if e.get("tested") else "—"),
            "JASPAR ID": hit.get("target_id") or "",
            "E-value": f"{hit['e_value']:.2g}" if hit.get("e_value") is not None else "",
            "Ground truth": ("yes: " + ", ".join(truth)) if truth else "no",
            "Informative": "yes" if e.get("tested") else "no (uninformative PPM)",
        })
    return pd.DataFrame(rows, columns=FILTER_COLUMNS)


def header(record: dict[str, Any], submission_id: str, row: dict[str, Any] | None) -> str:
    """Markdown summary: identity, dataset, headline numbers, evaluator settings."""
    model = record.get("model") or {}
    ds = record.get("dataset") or {}
    res = record.get("results") or {}
    cls = res.get("classification") or {}
    rec = res.get("motif_recovery") or {}
    att = res.get("attribution") or None
    jaspar = record.get("jaspar") or {}
    params = (record.get("parameters") or {}).get("eval") or {}
    row = row or {}

    def num(v: Any) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    kind = "baseline" if row.get("baseline") else "community"
    facts = [f"{k}: {v}" for k, v in (("activation", row.get("activation")), ("pool", row.get("first_layer_pool")),
                                     ("params", row.get("params")), ("framework", row.get("framework") or model.get("framework")))
             if v is not None and v == v]
    lines = [
        f"### {model.get('name') or row.get('model_name') or submission_id}",
        f"`{submission_id}` · {kind} · submitted by {row.get('submitter', '?')}"
        + (f" · {', '.join(facts)}" if facts else ""),
        "",
        f"**Dataset** {ds.get('config')} / {ds.get('split')} v{str(ds.get('version')).lstrip('v')} "
        f"({ds.get('n_sequences')} sequences) · **evaluator** {record.get('evaluator_version')} · "
        f"**JASPAR** {jaspar.get('release')} {jaspar.get('collection', '')} ({jaspar.get('n_matrices')} matrices) · "
        f"**PPM** {params.get('ppm_method')} · **Tomtom** dist={params.get('tomtom_dist')}, "
        f"{'E' if params.get('tomtom_evalue') else 'q'}-value < {params.get('tomtom_thresh')}",
        "",
        "| AUROC | auPR | match ground truth | coverage | match JASPAR | attribution (ISM AUROC) |",
        "|---|---|---|---|---|---|",
        f"| {num(cls.get('macro_auroc'))} | {num(cls.get('macro_aupr'))} | "
        + (f"{num(rec.get('match_ground_truth_fraction'))} ({rec.get('n_match_ground_truth', '?')}/{rec.get('n_filters', '?')}) | "
           f"{rec.get('coverage_count', '?')}/{rec.get('n_ground_truth_tfs', 12)} | "
           f"{num(rec.get('match_jaspar_fraction'))} | " if rec else "n/a | n/a | n/a | ")
        + f"{num(att.get('mean_auroc')) if att else 'not run'} |",
    ]
    if not rec:
        lines += ["", "No first-layer tap (the first conv could not be found or is strided/dilated): first-layer "
                      "motif recovery is n/a; motif discovery from attributions is below."]
    missed = rec.get("missed_tfs") or []
    if missed:
        lines += ["", f"Ground-truth motifs no filter recovered: {', '.join(missed)}."]
    from space_app.integrity_view import detail_lines

    lines += detail_lines(record)  # intervals, hidden round, public-minus-hidden gap
    return "\n".join(lines)


def build_detail(submission_id: str | None, frame: pd.DataFrame, root: Path | None = None,
                 store: Store | None = None) -> Detail:
    """Everything the detail view shows for ``submission_id`` (an id from the leaderboard table)."""
    sid = safe_id(submission_id)
    if sid is None:
        return Detail("Pick a model in the leaderboard (click its row) or in the list above.")
    record = load_record(sid, root, store)
    if record is None:
        return Detail(f"No finished result for `{sid}` yet: see the Queue tab for its state.")
    matches = frame[frame["id"] == sid] if not frame.empty else frame
    row = matches.iloc[0].to_dict() if len(matches) else None
    filters_png, truth_png = logo_images(record, sid, root)
    patterns_png, examples_png = attribution_images(record, sid, root)
    return Detail(
        attribution=attribution_markdown(record),
        pattern_logos=patterns_png,
        attribution_examples=examples_png,
        header=header(record, sid, row),
        filter_logos=filters_png,
        truth_logos=truth_png,
        filters=filter_table(record),
        per_class=plots.per_class_chart(record),
        coverage=plots.coverage_heatmap(record),
        record_file=record_path(sid, root) or _write_copy(record, sid, root),
    )


def _write_copy(record: dict[str, Any], sid: str, root: Path | None) -> Path:
    """A JSON copy for download when the export has not written ``results/<id>.json``."""
    import json

    from submissions.store import submissions_home

    path = (root or submissions_home()) / "space_cache" / sid / f"{sid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return path
