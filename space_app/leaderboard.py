"""The leaderboard table: the exported parquet -> one comparable view at a time.

The Space never recomputes a score: it reads ``leaderboard.parquet`` written by
:mod:`submissions.export` (one row per FINISHED submission, flat typed
columns) and only selects, filters, renames and rounds. Rows are grouped into
*views* by (dataset config, dataset version, evaluator major): numbers from
different dataset versions or evaluator majors are not comparable, so one
table never shows two views.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from space_app.glossary import (ATTRIBUTION, AUPR, AUROC, COVERAGE, DECIMALS, GT_MATCH, JASPAR_MATCH, N_TFS,
                                 PARAMS)
from space_app.safe_text import cell
from submissions.export import LEADERBOARD_SCHEMA, leaderboard_path

log = logging.getLogger(__name__)

ALL = "all"
BASELINE, COMMUNITY = "baseline", "community"

#: Display name of every table column, in table order, with the parquet column it comes from.
COLUMNS: dict[str, str] = {
    "Rank": "rank_band",
    "Model": "model_name",
    "Type": "baseline",
    "AUROC": "auroc",
    "AUROC ±": "auroc_pm",
    "auPR": "aupr",
    "GT match": "match_ground_truth",
    "GT match ±": "match_ground_truth_pm",
    f"Coverage (/{N_TFS})": "coverage_count",
    "JASPAR match": "match_jaspar",
    "Attribution": "attribution_score",
    "Attr AUROC saliency": "attr_saliency_auroc",
    "Attr AUPR saliency": "attr_saliency_aupr",
    "Attr AUROC grad×input": "attr_grad_x_input_auroc",
    "Attr AUPR grad×input": "attr_grad_x_input_aupr",
    "Attr AUROC IG": "attr_integrated_gradients_auroc",
    "Attr AUPR IG": "attr_integrated_gradients_aupr",
    "Attr AUROC DeepSHAP": "attr_deeplift_shap_auroc",
    "Attr AUPR DeepSHAP": "attr_deeplift_shap_aupr",
    "Discovery match": "discovery_match",
    f"Discovery (/{N_TFS})": "discovery_coverage",
    "Activation": "activation",
    "Pool": "first_layer_pool",
    PARAMS: "params",
    "Framework": "framework",
    "Filters": "n_filters",
    "Submitter": "submitter",
    "Date": "finished_at",
    "Dataset": "dataset_config",
    "Version": "dataset_version",
    "Split": "split",
    "Evaluator": "evaluator_version",
    "SHA256": "sha256",
    "Round": "round_id",
    "Gap AUROC": "gap_auroc",
    "Gap GT match": "gap_match_ground_truth",
    "Family": "family",
    "Seed": "seed",
    "ID": "id",
}
#: Score columns with a bootstrap interval in the export (``<col>_lo``/``<col>_hi``): ``±`` = half its width.
INTERVAL_SCORES = ("auroc", "aupr", "match_ground_truth", "coverage", "match_jaspar", "attribution_score")
#: Public-test score columns: gap = public minus hidden (a positive gap hints at tuning to the public test).
GAPS = {"gap_auroc": ("public_auroc", "auroc"), "gap_match_ground_truth": ("public_match_ground_truth",
                                                                        "match_ground_truth")}
#: Columns shown until the user picks others (they fit a 1,400 px window: Type and Framework are under
#: Columns; the Models selector filters by type). ``ID`` is always shown: the detail view needs it.
DEFAULT_COLUMNS: tuple[str, ...] = (
    "Rank", "Model", "AUROC", "AUROC ±", "auPR", "GT match", "GT match ±", f"Coverage (/{N_TFS})",
    "JASPAR match", "Attribution", "Activation", "Pool", "Params", "Submitter", "Date",
)
ALWAYS_SHOWN = ("ID",)
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in ALWAYS_SHOWN)
SCORE_COLUMNS = ("AUROC", "AUROC ±", "auPR", "GT match", "GT match ±", "JASPAR match", "Attribution", "Gap AUROC",
                 "Gap GT match", "Discovery match", *(c for c in COLUMNS if c.startswith("Attr ")))
#: First-layer (tap) columns: a model without a findable first-layer tap shows "n/a" there, never 0.
FIRST_LAYER_COLUMNS = ("GT match", f"Coverage (/{N_TFS})", "JASPAR match", "Filters")
#: Default order: how many filters learnt true motifs first (the benchmark's point), then AUROC.
DEFAULT_SORT = (("match_ground_truth", False), ("auroc", False), ("model_name", True))


@dataclass(frozen=True)
class ViewKey:
    """One comparable set of rows: same dataset config and version, same evaluator major."""

    config: str
    version: str
    evaluator_major: str

    @property
    def label(self) -> str:
        return f"{self.config} · data v{self.version.lstrip('v')} · evaluator {self.evaluator_major}.x"


def evaluator_major(version: object) -> str:
    """``"1.2.0"`` -> ``"1"``; missing or malformed -> ``"?"`` (kept apart from every real major)."""
    match = re.match(r"^\s*v?(\d+)", str(version)) if isinstance(version, str) else None
    return match.group(1) if match else "?"


def _version_key(version: str) -> tuple:
    """Sort key that orders ``1.10.0`` after ``1.9.0`` (numbers compared as numbers)."""
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.+-]", str(version).lstrip("v")))


class LeaderboardSource:
    """The exported table, re-read only when the file changes.

    Parameters
    ----------
    path : Path, optional
        The parquet file; default :func:`submissions.export.leaderboard_path` in the data home.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else leaderboard_path()
        self._stamp: tuple[int, int] | None = None
        self._frame: pd.DataFrame | None = None

    def version(self) -> tuple[int, int] | None:
        """The table version last read (file mtime and size), None when there is no table."""
        self.frame()
        return self._stamp

    def frame(self) -> pd.DataFrame:
        """Every exported row (empty frame with the export's columns when nothing has finished)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._frame = None, None
            return LEADERBOARD_SCHEMA.empty_table().to_pandas()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._frame is None or stamp != self._stamp:
            try:
                table = pq.read_table(self.path)
            except (pa.ArrowException, OSError) as exc:  # truncated or garbage: rebuild it from the store now
                log.warning("leaderboard table %s is unreadable (%s): rebuilding it from the stored records",
                            self.path, exc)
                table = _rebuilt(self.path)
                if table is None:
                    self._stamp, self._frame = None, None
                    return LEADERBOARD_SCHEMA.empty_table().to_pandas()
                stat = self.path.stat()
                stamp = (stat.st_mtime_ns, stat.st_size)
            self._frame = prepare(table.to_pandas())
            self._stamp = stamp
        return self._frame


def _rebuilt(path: Path) -> pa.Table | None:
    """Rebuild a broken ``leaderboard.parquet`` from the store beside it; None if that fails too."""
    from submissions.leaderboard_repair import rebuild_leaderboard

    try:
        rebuild_leaderboard(path.parent)
        return pq.read_table(path)
    except Exception:  # the page must still come up: an empty table and a log line
        log.exception("could not rebuild %s", path)
        return None


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the derived view columns (``evaluator_major``) to a raw exported frame."""
    frame = frame.copy()
    for name in LEADERBOARD_SCHEMA.names:  # an older export may lack a column: show it empty
        if name not in frame.columns:
            frame[name] = None
    missing = frame["coverage_count"].isna() & frame["coverage"].notna()  # exports before coverage_count
    frame.loc[missing, "coverage_count"] = (frame.loc[missing, "coverage"].astype("float64") * N_TFS).round()
    frame["evaluator_major"] = [evaluator_major(v) for v in frame["evaluator_version"]]
    frame["dataset_version"] = frame["dataset_version"].fillna("?").astype(str)
    frame["dataset_config"] = frame["dataset_config"].fillna("?").astype(str)
    for column in INTERVAL_SCORES:  # half-width of the 95% bootstrap interval (rows without one: empty)
        frame[f"{column}_pm"] = (frame[f"{column}_hi"].astype("float64") - frame[f"{column}_lo"].astype("float64")) / 2
    for gap, (public, hidden) in GAPS.items():
        frame[gap] = frame[public].astype("float64") - frame[hidden].astype("float64")
    frame["rank_band"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    return frame


def with_rank_bands(rows: pd.DataFrame, metric: str = "match_ground_truth") -> pd.DataFrame:
    """Rows with ``rank_band``: 1 + the rows whose ``metric`` interval lies entirely above theirs.

    Rows whose intervals overlap the leader's share rank 1 (ties are ties); rows
    without an interval compare by value.
    """
    from evaluator.uncertainty import rank_bands

    rows = rows.copy()
    if rows.empty:
        return rows
    rows["rank_band"] = pd.array(rank_bands(rows[metric].astype("float64").tolist(),
                                            rows[f"{metric}_lo"].astype("float64").tolist(),
                                            rows[f"{metric}_hi"].astype("float64").tolist()), dtype="Int64")
    return rows


def configs(frame: pd.DataFrame) -> list[str]:
    """Dataset configs that have rows, ``synthetic`` first."""
    return sorted(frame["dataset_config"].dropna().unique(), key=lambda c: (c != "synthetic", c))


def views(frame: pd.DataFrame, config: str | None = None) -> list[ViewKey]:
    """Comparable views present in ``frame`` (of one config if given), newest data and evaluator first."""
    if frame.empty:
        return []
    keys = frame[["dataset_config", "dataset_version", "evaluator_major"]].drop_duplicates()
    if config:
        keys = keys[keys["dataset_config"] == config]
    out = [ViewKey(*row) for row in keys.itertuples(index=False)]
    return sorted(out, key=lambda k: (k.config != "synthetic", k.config, _neg(_version_key(k.version)),
                                      _neg(_version_key(k.evaluator_major))))


def _neg(key: tuple) -> tuple:
    return tuple(-x for x in key)


def view_from_label(frame: pd.DataFrame, label: str | None) -> ViewKey | None:
    """The view whose :attr:`ViewKey.label` is ``label`` (None if it no longer exists)."""
    return next((k for k in views(frame) if k.label == label), None)


def select_rows(frame: pd.DataFrame, view: ViewKey | None, activation: str = ALL, kind: str = ALL) -> pd.DataFrame:
    """The rows of one view, optionally of one first-layer activation and one kind (baseline/community).

    No view -> no rows: the table never falls back to mixing views.
    """
    if view is None or frame.empty:
        return frame.iloc[0:0]
    mask = (
        (frame["dataset_config"] == view.config)
        & (frame["dataset_version"] == view.version)
        & (frame["evaluator_major"] == view.evaluator_major)
    )
    if activation and activation != ALL:
        mask &= frame["activation"].fillna("").str.lower() == activation.lower()
    if kind == BASELINE:
        mask &= frame["baseline"].fillna(False).astype(bool)
    elif kind == COMMUNITY:
        mask &= ~frame["baseline"].fillna(False).astype(bool)
    rows = with_rank_bands(frame[mask])
    by = ["rank_band", *(c for c, _ in DEFAULT_SORT)]  # rank band first, so the Rank column reads in order
    return rows.sort_values(by, ascending=[True, *(a for _, a in DEFAULT_SORT)], na_position="last", kind="stable")


def activations(frame: pd.DataFrame, view: ViewKey | None) -> list[str]:
    """Activation choices for the filter: ``all`` + those present in the view."""
    rows = select_rows(frame, view)
    return [ALL, *sorted({str(a) for a in rows["activation"].dropna() if str(a)})]


def display_table(rows: pd.DataFrame, columns: list[str] | tuple[str, ...] | None = None) -> pd.DataFrame:
    """Selected rows as the user sees them: chosen columns (plus ``ID``) renamed, scores rounded.

    Parameters
    ----------
    rows : DataFrame
        Output of :func:`select_rows`.
    columns : list of display names, optional
        Default :data:`DEFAULT_COLUMNS`; unknown names are ignored.
    """
    chosen = [c for c in COLUMNS if c in set(columns or DEFAULT_COLUMNS) or c in ALWAYS_SHOWN]
    out = pd.DataFrame(index=rows.index)
    for name in chosen:
        column = COLUMNS[name]  # a derived column is missing from an unprepared (empty) frame: show it empty
        source = rows[column] if column in rows else pd.Series([None] * len(rows), index=rows.index, dtype=object)
        if name == "Type":
            source = source.map(lambda b: BASELINE if bool(b) else COMMUNITY)
        elif name in SCORE_COLUMNS:
            source = source.astype("float64").round(DECIMALS)
        elif name in ("Rank", "Pool", "Params", "Filters", "Seed") or name.startswith(("Coverage", "Discovery (")):
            source = source.astype("Int64")
        elif name == "Date":
            source = pd.to_datetime(source, utc=True).dt.strftime("%Y-%m-%d")
        elif name == "SHA256":
            source = source.str.slice(0, 12)
        else:  # user-controlled text: shown as text, capped (space_app.safe_text)
            source = source.map(cell)
        out[name] = source
    out = out.reset_index(drop=True)
    shown = out.astype(object).where(out.notna(), None)
    for name in FIRST_LAYER_COLUMNS:  # a model with no first-layer tap: "n/a", never 0
        if name in shown.columns:
            shown[name] = shown[name].where(shown[name].notna(), "n/a")
    for name in (c for c in shown.columns if c.endswith(" ±")):  # a score without its interval: said, not blank
        score = shown[name[:-2]] if name[:-2] in shown.columns else rows[COLUMNS[name[:-2]]].reset_index(drop=True)
        missing = shown[name].isna()
        shown.loc[missing, name] = [NO_INTERVAL if _is_number(v) else "n/a" for v in score[missing]]
    return shown


#: The ``±`` cell of a row scored without bootstrap intervals (e.g. a worker run with ``--no-intervals``).
NO_INTERVAL = "no CI"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def styled(table: pd.DataFrame):
    """The table as the page shows it: scores with three decimals, counts with thousands separators.

    A pandas ``Styler``: Gradio displays the formatted text but sorts and
    filters on the numbers underneath. Text cells ("n/a") pass through unchanged.
    """
    def fixed(v: object) -> object:
        return f"{v:.{DECIMALS}f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else v

    def thousands(v: object) -> object:
        return f"{v:,}" if isinstance(v, (int, float)) and not isinstance(v, bool) else v

    formats = {name: fixed for name in SCORE_COLUMNS if name in table.columns}
    formats.update({name: thousands for name in (PARAMS, "Filters") if name in table.columns})
    return table.style.format(formats, na_rep="")
