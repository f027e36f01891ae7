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
from space_app.glossary import ATTRIBUTION, AUPR, AUROC, COVERAGE, GT_MATCH, JASPAR_MATCH, count, score
from space_app.safe_text import cell, md
from space_app.attribution_detail import attribution_images, attribution_markdown
from space_app.records import load_record, logo_images, record_path, safe_id
from submissions.store import Store

FILTER_COLUMNS = ["Filter", "Best Tomtom match", "JASPAR ID", "E-value", "Ground truth", "Why it counts",
                  "Informative"]
#: Shown above the filter table: why a filter whose best match is another TF can still count.
FILTER_NOTE = ("A filter counts as **ground truth** when any of its Tomtom matches (not only the best one) is an "
               "accepted JASPAR ID of one of the 12 embedded motifs: each motif's accepted list holds its own "
               "matrix, other versions of it and near-identical matrices of the same TF family (About lists "
               "them). So a filter whose best match is CEBPG counts for CEBPB when one of its other matches is "
               "CEBPB's MA0466.2.")
NO_MODEL = "No model yet: the leaderboard is empty. Submit one in the **Submit** tab."


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
    return [(cell(f"{cell(r.model_name, 100)} · {r.dataset_config} v{str(r.dataset_version).lstrip('v')} · {r.id}"), r.id)
            for r in rows.itertuples(index=False)]


def why_it_counts(entry: dict[str, Any], accepted: dict[str, tuple[str, ...]] | None = None) -> str:
    """Why a filter counts as a ground-truth match (or not), in words."""
    hit = entry.get("best_hit") or {}
    truth = entry.get("best_ground_truth_hit") or {}
    if not truth:
        return "none of its Tomtom matches is an accepted ID" if hit else ""
    tf = truth.get("ground_truth_tf") or ""
    listed = f"{tf}'s accepted list" + (f" ({', '.join(accepted[tf])})" if accepted and tf in accepted else "")
    e = f", E={truth['e_value']:.2g}" if truth.get("e_value") is not None else ""
    if truth.get("target_id") == hit.get("target_id"):
        if str(hit.get("target_name") or "").upper() == tf.upper():
            return f"best match is {tf}'s own motif"
        return f"best match {hit.get('target_id')} is on {listed}"
    return f"another match, {truth.get('target_id')} ({truth.get('target_name') or tf}{e}), is on {listed}"


def filter_table(record: dict[str, Any]) -> pd.DataFrame:
    """One row per first-layer filter: its best Tomtom hit, whether it is ground truth, and why."""
    entries = (((record.get("results") or {}).get("motif_recovery")) or {}).get("filters") or []
    try:
        from benchmark.motifs import load_motif_set

        accepted = dict(load_motif_set().accepted_ids)
    except Exception:  # the table must render without JASPAR data
        accepted = None
    rows = []
    for e in entries:
        hit = e.get("best_hit") or {}
        truth = e.get("ground_truth_tfs") or []
        rows.append({
            "Filter": cell(e.get("filter")),
            "Best Tomtom match": cell(hit.get("target_name")) or ("no match" if e.get("tested") else "—"),
            "JASPAR ID": cell(hit.get("target_id")) or "",
            "E-value": f"{hit['e_value']:.2g}" if hit.get("e_value") is not None else "",
            "Ground truth": cell("yes: " + ", ".join(map(str, truth))) if truth else "no",
            "Why it counts": cell(why_it_counts(e, accepted)),
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

    num = score  # three decimals; "n/a" for anything that is not a number

    def t(v: Any) -> str:  # every value from the record or the manifest is text, never markup
        return md(v)

    kind = "baseline" if row.get("baseline") else "community"
    facts = [f"{k}: {t(v)}" for k, v in (("activation", row.get("activation")), ("pool", row.get("first_layer_pool")),
                                        ("params", None if count(row.get("params")) == "n/a" else count(row.get("params"))),
                                        ("framework", row.get("framework") or model.get("framework")))
             if v is not None and v == v]
    lines = [
        f"### {t(model.get('name') or row.get('model_name') or submission_id)}",
        f"`{submission_id}` · {kind} · submitted by {t(row.get('submitter', '?'))}"
        + (f" · {', '.join(facts)}" if facts else ""),
        "",
        f"**Dataset** {t(ds.get('config'))} / {t(ds.get('split'))} v{t(str(ds.get('version')).lstrip('v'))} "
        f"({t(count(ds.get('n_sequences')))} sequences) · **evaluator** {t(record.get('evaluator_version'))} · "
        f"**JASPAR** {t(jaspar.get('release'))} {t(jaspar.get('collection', ''))} ({t(jaspar.get('n_matrices'))} matrices) · "
        f"**PPM** {t(params.get('ppm_method'))} · **Tomtom** dist={t(params.get('tomtom_dist'))}, "
        f"{'E' if params.get('tomtom_evalue') else 'q'}-value < {t(params.get('tomtom_thresh'))}",
        "",
        f"| {AUROC} | {AUPR} | {GT_MATCH} | {COVERAGE} | {JASPAR_MATCH} | {ATTRIBUTION} (ISM AUROC) |",
        "|---|---|---|---|---|---|",
        f"| {num(cls.get('macro_auroc'))} | {num(cls.get('macro_aupr'))} | "
        + (f"{num(rec.get('match_ground_truth_fraction'))} ({t(rec.get('n_match_ground_truth', '?'))}/{t(rec.get('n_filters', '?'))}) | "
           f"{t(rec.get('coverage_count', '?'))}/{t(rec.get('n_ground_truth_tfs', 12))} | "
           f"{num(rec.get('match_jaspar_fraction'))} | " if rec else "n/a | n/a | n/a | ")
        + f"{num(att.get('mean_auroc')) if att else 'not run'} |",
    ]
    if not rec:
        lines += ["", "No first-layer tap (the first conv could not be found or is strided/dilated): first-layer "
                      "motif recovery is n/a; motif discovery from attributions is below."]
    missed = rec.get("missed_tfs") or []
    if missed:
        lines += ["", f"Ground-truth motifs no filter recovered: {t(', '.join(map(str, missed)))}."]
    from space_app.integrity_view import detail_lines, earlier_records_lines

    lines += detail_lines(record)  # intervals, hidden round, public-minus-hidden gap
    lines += earlier_records_lines(submission_id)  # ended rounds' records, for verifying them
    return "\n".join(lines)


def build_detail(submission_id: str | None, frame: pd.DataFrame, root: Path | None = None,
                 store: Store | None = None) -> Detail:
    """Everything the detail view shows for ``submission_id`` (an id from the leaderboard table)."""
    sid = safe_id(submission_id)
    if sid is None:
        return Detail("Pick a model in the list above, or click its row in the leaderboard.")
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
