"""Seed families: the rows of one model trained with several seeds, shown as one row (mean ± sd, n).

A manifest may name a ``family`` and a ``seed`` (baselines always do: the zoo
model and activation). The papers report 5-10 trials per model; a family row
is what they report: each score's mean over the family's seeds, its sample
standard deviation and the number of seeds. Rows without a family stay rows of
their own (n = 1). Ranks are tie-aware on the mean ± sd band. The bundled
baselines ship one ONNX per family (scored here) and the evaluator records of
their other seeds; a baseline family's row counts those records too.
"""
from __future__ import annotations

import pandas as pd

from evaluator.uncertainty import family_summary, rank_bands
from space_app.leaderboard import DEFAULT_SORT

#: Family table columns: display name -> exported column (scores are "mean ± sd").
FAMILY_SCORES: dict[str, str] = {
    "AUROC": "auroc",
    "auPR": "aupr",
    "GT match": "match_ground_truth",
    "Coverage (/12)": "coverage_count",
    "JASPAR match": "match_jaspar",
    "Attribution": "attribution_score",
}
FAMILY_FACTS = ("activation", "first_layer_pool", "params", "framework", "submitter", "baseline")


def with_recorded_seeds(rows: pd.DataFrame, recorded: pd.DataFrame | None) -> pd.DataFrame:
    """``rows`` plus the shipped records of baseline seeds the leaderboard does not score itself.

    A recorded seed joins only a baseline family that has a scored row in this view, with the view's
    dataset config and version and evaluator major version (so records from another evaluator never
    mix with live scores), and only when that (family, seed) has no scored row. Recorded rows get
    ``recorded`` = True.

    rows : the rows of one leaderboard view; recorded : `space_app.bundled_baselines.recorded_seed_rows`.
    """
    from space_app.leaderboard import evaluator_major

    if recorded is None or recorded.empty or rows.empty or "baseline" not in rows:
        return rows
    live = rows[rows["baseline"].fillna(False).astype(bool) & rows["family"].notna()]
    if live.empty:
        return rows
    view = {(c, v, evaluator_major(e)) for c, v, e in
            zip(live["dataset_config"], live["dataset_version"], live["evaluator_version"])}
    scored = {(f, _seed(s)) for f, s in zip(live["family"], live["seed"])}
    families = set(live["family"])
    keep = [(c, v, evaluator_major(e)) in view and f in families and (f, _seed(s)) not in scored
            for c, v, e, f, s in zip(recorded["dataset_config"], recorded["dataset_version"],
                                     recorded["evaluator_version"], recorded["family"], recorded["seed"])]
    extra = recorded[keep].assign(recorded=True)
    if extra.empty:
        return rows
    return pd.concat([rows.assign(recorded=False), extra], ignore_index=True)


def _seed(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def family_rows(rows: pd.DataFrame, recorded: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per family: ``family``, ``n_seeds`` (``n_scored`` of them scored here), per score
    ``<col>_mean`` / ``<col>_sd``, shared facts, ``id`` (a scored row's).

    rows : the rows of one leaderboard view (:func:`space_app.leaderboard.select_rows`).
    recorded : shipped baseline seed records (see :func:`with_recorded_seeds`), optional.
    """
    if rows.empty:
        return pd.DataFrame(columns=["family", "n_seeds", "id"])
    rows = with_recorded_seeds(rows, recorded)
    if "recorded" not in rows:
        rows = rows.assign(recorded=False)
    key = rows["family"].where(rows["family"].notna() & (rows["family"].astype(str) != ""), rows["model_name"])
    out = []
    for name, group in rows.groupby(key, sort=False):
        scored = group[~group["recorded"].astype(bool)]
        entry = {"family": str(name), "n_seeds": int(len(group)), "n_scored": int(len(scored)),
                 "id": str(scored["id"].iloc[0])}
        for column in FAMILY_SCORES.values():
            stats = family_summary(group[column].astype("float64").tolist())
            entry[f"{column}_mean"], entry[f"{column}_sd"] = stats["mean"], stats["sd"]
        for fact in FAMILY_FACTS:
            values = group[fact].dropna().unique()
            entry[fact] = values[0] if len(values) == 1 else None
        out.append(entry)
    table = pd.DataFrame(out)
    metric = DEFAULT_SORT[0][0]
    mean, sd = table[f"{metric}_mean"].astype("float64"), table[f"{metric}_sd"].astype("float64").fillna(0.0)
    table["rank_band"] = rank_bands(mean.tolist(), (mean - sd).tolist(), (mean + sd).tolist())
    return table.sort_values(["rank_band", f"{metric}_mean"], ascending=[True, False], kind="stable",
                             na_position="last").reset_index(drop=True)


def _cell(mean, sd, digits: int = 3) -> str | None:
    if mean is None or pd.isna(mean):
        return None
    return f"{mean:.{digits}f}" if sd is None or pd.isna(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def display_family_table(rows: pd.DataFrame, recorded: pd.DataFrame | None = None) -> pd.DataFrame:
    """Family rows as the user sees them: rank, family, seeds (n), "mean ± sd" per score, facts, ID."""
    table = family_rows(rows, recorded)
    out = pd.DataFrame({"Rank": table.get("rank_band", pd.Series(dtype="Int64")),
                        "Family": table.get("family"), "Seeds (n)": table.get("n_seeds"),
                        "Scored here": table.get("n_scored")})
    for name, column in FAMILY_SCORES.items():
        digits = 1 if column == "coverage_count" else 3
        out[name] = [_cell(m, s, digits) for m, s in zip(table.get(f"{column}_mean", []), table.get(f"{column}_sd", []))]
    out["Activation"] = table.get("activation")
    out["Pool"] = table.get("first_layer_pool")
    out["ID"] = table.get("id")
    return out.astype(object).where(out.notna(), None)
