"""The headline results table, generated from run records (docs/results.md and its figure).

A *run record* is a run folder's ``spec.json`` (training: protocol, seed,
dataset, test AUROC/auPR) plus the evaluator records beside it, one per PPM
method (``evaluation/result.json`` for NMI with attribution,
``evaluation/result.ke.json`` for KE; see `baselines.sweep.EVAL_FILES`). Run
folders are found under any roots: sweep folders, the bundled
``space_app/baseline_models``. The table groups runs by model, first-layer
activation and protocol settings, never mixes protocols, reports mean, sd
(ddof 1) and n for every metric, and puts the papers' published value and a
verdict beside each one on file (`baselines.published`).
"""
from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from baselines.errors import BaselineError
from baselines.export import ONNX_FILE, SPEC_FILE, read_json_object
from baselines.published import FINDINGS_SOURCE, Published, finding_verdict, findings, published
from baselines.protocols import get_protocol
from baselines.zoo import ACTIVATIONS, POOL_FAMILY, check_seed, get_spec, model_names
from benchmark.files import atomic_write

#: Table columns: (row key from `baselines.sweep.run_row`, header, digits).
METRICS: tuple[tuple[str, str, int], ...] = (
    ("test_auroc", "AUROC", 3),
    ("test_aupr", "auPR", 3),
    ("match_ground_truth_fraction", "GT match NMI", 2),
    ("match_ground_truth_fraction_ke", "GT match KE", 2),
    ("match_jaspar_fraction", "JASPAR NMI", 2),
    ("match_jaspar_fraction_ke", "JASPAR KE", 2),
    ("coverage_count", "coverage NMI", 1),
    ("coverage_count_ke", "coverage KE", 1),
    ("ism_auroc", "attribution AUROC", 3),
    ("ism_aupr", "attribution auPR", 3),
)
FIGURE_NAME = "results_gt_vs_pool.png"


def as_roots(roots: Iterable[Path | str] | Path | str) -> list[Path]:
    """``roots`` as a list of paths; one folder given alone (a str or Path) is one root, not its characters."""
    return [Path(roots)] if isinstance(roots, (str, Path)) else [Path(r) for r in roots]


def find_run_dirs(roots: Iterable[Path | str]) -> list[Path]:
    """Every folder under ``roots`` whose spec.json is a finished baseline run's record
    (a complete sweep run, or a bundled one: spec.json with test scores beside model.onnx)."""
    found: list[Path] = []
    for root in as_roots(roots):
        if not root.exists():
            raise BaselineError(f"{root}: no such folder of runs")
        for spec in sorted(root.glob(f"**/{SPEC_FILE}")):
            record = read_json_object(spec)  # a damaged record is named, never silently left out of a table
            if "zoo_name" in record and "test" in record:
                check_run_identity(record, spec)
                found.append(spec.parent)
    return found


def check_run_identity(record: dict[str, Any], path: Path) -> None:
    """Refuse a run record whose model, activation or seed is not one a run can have.

    Bundles and model repos name folders after these fields, so a record naming ``../../x`` as
    its model must never get that far.
    """
    model, activation, seed = record.get("zoo_name"), record.get("activation"), record.get("seed")
    if model not in model_names():
        raise BaselineError(f"{path}: zoo_name {str(model)[:60]!r} is not a model of the zoo")
    if activation not in ACTIVATIONS:
        raise BaselineError(f"{path}: activation {str(activation)[:60]!r} is not one of {', '.join(ACTIVATIONS)}")
    try:
        check_seed(seed)
    except BaselineError:
        raise BaselineError(f"{path}: seed {str(seed)[:60]!r} is not a whole number >= 0") from None


def _identity(record: dict[str, Any]) -> tuple:
    """What makes two folders the same run (a sweep run and its bundled copy): model, activation,
    seed, protocol and the moment it was created."""
    protocol = json.dumps(record.get("protocol", {}), sort_keys=True)
    return record["zoo_name"], record["activation"], record["seed"], protocol, record.get("created")


def protocol_label(protocol: dict[str, Any]) -> str:
    """``koo2019``, or ``koo2019 (epochs 40, patience 6)`` when a run departs from its preset."""
    name = protocol.get("name", "?")
    try:
        preset = get_protocol(name)
    except BaselineError:
        return str(name)
    departures = [f"{key} {protocol[key]}" for key in ("epochs", "patience")
                  if key in protocol and protocol[key] != getattr(preset, key)]
    return f"{name} ({', '.join(departures)})" if departures else name


def collect_runs(roots: Iterable[Path | str]) -> pd.DataFrame:
    """One row per distinct run under ``roots`` (duplicates of the same run counted once)."""
    from baselines.sweep import run_row

    rows, seen = [], set()
    for run_dir in find_run_dirs(roots):
        record = read_json_object(run_dir / SPEC_FILE)
        key = _identity(record)
        if key in seen:
            continue
        seen.add(key)
        row = run_row(run_dir)
        row["protocol_label"] = protocol_label(record.get("protocol", {}))
        dataset = record.get("dataset") or {}
        row["dataset_version"] = dataset.get("version")
        row["threads"] = record.get("threads")
        # what the run was trained on: rows never average runs on different data
        row["data_id"] = json.dumps([dataset.get("config"), dataset.get("limit"),
                                     dataset.get("splits_content_sha256") or dataset.get("content_sha256")],
                                    sort_keys=True)
        for method, file in _eval_files().items():
            path = run_dir / file
            if path.is_file():
                row[f"evaluator_version_{method}"] = read_json_object(path).get("evaluator_version")
        rows.append(row)
    return pd.DataFrame(rows)


def _eval_files() -> dict[str, str]:
    from baselines.sweep import EVAL_FILES

    return EVAL_FILES


def summarize_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model x activation x protocol: ``n_runs`` and, per metric, ``<m>_mean``, ``<m>_sd``
    (ddof 1; NaN for one run) and ``<m>_n`` (runs that have that metric)."""
    if runs.empty:
        return pd.DataFrame()
    names, acts = model_names(), list(ACTIVATIONS)
    runs = runs.assign(_m=runs["model"].map(lambda m: names.index(m) if m in names else len(names)),
                       _a=runs["activation"].map(lambda a: acts.index(a) if a in acts else len(acts)))
    rows = []
    for (model, activation, label), group in runs.sort_values(["_m", "_a", "seed"]).groupby(
            ["model", "activation", "protocol_label"], sort=False):
        if "data_id" in group and group["data_id"].nunique() > 1:
            raise BaselineError(f"the {model} {activation} runs under {label} were trained on different data "
                                f"(other --data, --limit or dataset contents: {', '.join(sorted(set(group['run_dir'])))[:300]}); "
                                "build a table from one dataset's runs at a time")
        row: dict[str, Any] = {"model": model, "activation": activation, "protocol": label, "n_runs": len(group),
                               "seeds": ",".join(str(s) for s in sorted(group["seed"]))}
        for key, _, _ in METRICS:
            values = group[key].dropna() if key in group else pd.Series(dtype=float)
            row[f"{key}_n"] = len(values)
            row[f"{key}_mean"] = float(values.mean()) if len(values) else math.nan
            row[f"{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def verdict(mean: float, sd: float, n: int, paper: Published | None) -> str:
    """``within 2 sd`` / ``not within 2 sd`` of the published value, with the sd used.

    The sd is the combined spread sqrt(sd_ours^2 + sd_paper^2) when both exist;
    with one run ours has none, so only the paper's sd is used and the verdict
    says so; with neither there is no verdict.
    """
    if paper is None or math.isnan(mean):
        return ""
    parts = [s for s in ((sd if n > 1 and not math.isnan(sd) else None), paper.sd) if s is not None]
    if not parts:
        return "no sd: no verdict"
    spread = math.sqrt(sum(s * s for s in parts))
    inside = abs(mean - paper.mean) <= 2 * spread
    basis = "combined sd" if len(parts) == 2 else ("paper's sd only, n = 1" if n <= 1 else "our sd only")
    return f"{'within' if inside else 'NOT within'} 2 sd ({basis}: {spread:.3f})"


def _cell(mean: float, sd: float, n: int, digits: int) -> str:
    if n == 0 or math.isnan(mean):
        return "-"
    if n == 1 or math.isnan(sd):
        return f"{int(mean)}" if digits == 1 and float(mean).is_integer() else f"{mean:.{digits}f}"  # counts
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def markdown_tables(summary: pd.DataFrame) -> tuple[str, str]:
    """(main table, paper-comparison table) as Markdown."""
    header = ["model", "first layer", "protocol", "n", *[label for _, label, _ in METRICS]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 4 + "---:|" * len(METRICS)]
    paper_lines = ["| model | first layer | protocol | metric | ours (mean ± sd, n) | paper | source | verdict |",
                   "|---|---|---|---|---|---|---|---|"]
    for _, r in summary.iterrows():
        cells = [r["model"], r["activation"], r["protocol"], str(r["n_runs"])]
        for key, label, digits in METRICS:
            n = int(r[f"{key}_n"])
            cell = _cell(r[f"{key}_mean"], r[f"{key}_sd"], n, digits)
            cells.append(cell if n in (0, r["n_runs"]) else f"{cell} (n={n})")
            paper = published(r["model"], r["activation"], key)
            if paper is not None:
                ours = f"{_cell(r[f'{key}_mean'], r[f'{key}_sd'], n, 3)} (n={n})"
                theirs = f"{paper.mean:.3f}" + (f" ± {paper.sd:.3f}" if paper.sd is not None else "")
                paper_lines.append(f"| {r['model']} | {r['activation']} | {r['protocol']} | {label} | {ours} | "
                                   f"{theirs} | {paper.source} | {verdict(r[f'{key}_mean'], r[f'{key}_sd'], n, paper)} |")
            if n:
                first = get_spec(r["model"]).convs[0]
                for finding in findings(r["model"], r["activation"], key, first.width, first.pool):
                    ours = f"{_cell(r[f'{key}_mean'], r[f'{key}_sd'], n, 3)} (n={n})"
                    paper_lines.append(f"| {r['model']} | {r['activation']} | {r['protocol']} | {label} | {ours} | "
                                       f"{finding.claim} (read: {finding.reading}) | {FINDINGS_SOURCE} | "
                                       f"{finding_verdict(r[f'{key}_mean'], finding)} |")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n", "\n".join(paper_lines) + "\n"


def write_figure(summary: pd.DataFrame, path: Path | str) -> Path:
    """GT match (NMI solid, KE dashed) against first-layer pool size for the CNN-k family, ReLU and
    exp, mean with sd error bars (none where n = 1), one line per protocol: the papers' figure."""
    from matplotlib.figure import Figure

    path = Path(path)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    family = summary[summary["model"].isin(POOL_FAMILY)] if not summary.empty else summary
    colours = {"relu": "tab:blue", "exp": "tab:red"}
    for (activation, label), group in (family.groupby(["activation", "protocol"], sort=False) if len(family) else []):
        pools = [get_spec(m).convs[0].pool for m in group["model"]]
        order = sorted(range(len(pools)), key=pools.__getitem__)
        for key, style, method in (("match_ground_truth_fraction", "-", "NMI"),
                                   ("match_ground_truth_fraction_ke", "--", "KE")):
            means = group[f"{key}_mean"].to_numpy()[order]
            if all(math.isnan(v) for v in means):
                continue
            sds = [0.0 if math.isnan(s) else s for s in group[f"{key}_sd"].to_numpy()[order]]
            n = group[f"{key}_n"].to_numpy()[order]
            ax.errorbar([pools[i] for i in order], means, yerr=sds, fmt="o" + style, capsize=3,
                        color=colours.get(activation, "grey"), alpha=0.9 if method == "NMI" else 0.6,
                        label=f"{activation}, {method} PPMs, {label} (n = "
                        f"{min(n) if min(n) == max(n) else f'{min(n)}-{max(n)}'})")
    ax.set(xscale="log", xlabel="first-layer max-pool size (CNN-k)", ylabel="fraction of filters matching ground truth",
           ylim=(-0.05, 1.05), title="GT match vs first-layer pool size (mean ± sd over seeds)")
    ax.set_xticks([1, 2, 4, 10, 25, 50, 100], labels=["1", "2", "4", "10", "25", "50", "100"])
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


@dataclass(frozen=True)
class ResultsTable:
    """What `build_results` wrote and the data behind it."""

    runs: pd.DataFrame
    summary: pd.DataFrame
    markdown: Path
    figure: Path


def build_results(roots: Sequence[Path | str], out: Path | str, figure: Path | str | None = None,
                  command: str | None = None, notes: Path | str | None = None) -> ResultsTable:
    """Build the results page (Markdown) and its figure from every run record under ``roots``.

    Parameters
    ----------
    roots : folders searched for run folders (sweep outputs, ``space_app/baseline_models``)
    out : the Markdown file (docs/results.md)
    figure : the PNG (default: ``results_gt_vs_pool.png`` beside ``out``)
    command : the command line that produced the page, printed in it
    notes : a hand-written Markdown file appended as the page's "Notes" section (explanations of
        departures, with evidence), so the generated part never needs hand edits
    """
    out = Path(out)
    figure = Path(figure) if figure else out.with_name(FIGURE_NAME)
    # every input is read and every path checked before anything is written: a failure changes no file
    for path, what in ((out, "--out"), (figure, "--figure")):
        if path.is_dir():
            raise BaselineError(f"{what} {path} is a folder; give a file name")
    if figure.suffix.lower() != ".png":
        raise BaselineError(f"--figure {figure} must end in .png (the page links to the file by that name)")
    notes_text = None
    if notes is not None:
        try:
            notes_text = Path(notes).read_text().strip()
        except OSError as exc:
            raise BaselineError(f"cannot read the notes {notes}: {exc.strerror or exc}") from None
    runs = collect_runs(roots)
    if runs.empty:
        raise BaselineError(f"no run records under {', '.join(map(str, as_roots(roots)))}")
    summary = summarize_runs(runs)
    main_table, paper_table = markdown_tables(summary)
    page = _page(runs, summary, main_table, paper_table, figure, out, command)
    if notes_text is not None:
        page += "\n## Notes\n\n" + notes_text + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_figure(summary, figure)
    atomic_write(out, page.encode(), mode=0o644)
    return ResultsTable(runs, summary, out, figure)


def _versions(runs: pd.DataFrame, column: str) -> str:
    values = sorted({str(v) for v in runs[column].dropna()}) if column in runs else []
    return ", ".join(values) if values else "none"


def _page(runs, summary, main_table, paper_table, figure: Path, out: Path, command: str | None) -> str:
    figure_ref = Path(os.path.relpath(figure, out.parent)).as_posix()
    missing_ke = int(runs["match_ground_truth_fraction_ke"].isna().sum()) if "match_ground_truth_fraction_ke" in runs \
        else len(runs)
    lines = [
        "# Measured baseline results",
        "",
        "Generated by `motifbench results table` from the run records (spec.json + evaluator records) found; "
        "do not edit by hand." + (f" Command: `{command}`." if command else ""),
        "",
        f"{len(runs)} run(s) of {summary['model'].nunique()} model(s); dataset version(s) "
        f"{_versions(runs, 'dataset_version')}; evaluator version(s) {_versions(runs, 'evaluator_version_nmi')} "
        f"(NMI) / {_versions(runs, 'evaluator_version_ke')} (KE). Cells are mean ± sd (ddof 1) over the n runs "
        "(seeds) of a row; a cell without ± comes from one run and has no spread; `(n=k)` marks a metric "
        "that fewer runs of the row have; `-` = not measured. Rows are never padded and runs never reused: "
        "n is the number of distinct finished runs.",
        "",
        "Columns: AUROC / auPR = macro over the 12 classes on the test split (PyTorch, at the run's weights); "
        "GT match = fraction of first-layer filters whose Tomtom hits (E <= 0.1, JASPAR 2016 CORE vertebrates) "
        "include an accepted ID of a ground-truth TF; JASPAR = fraction with any hit; coverage = distinct TFs "
        "recovered (of 12); NMI / KE = the PPM method (Koo & Ploenzke 2021 / Koo & Eddy 2019, REFERENCE.md "
        "section 6); attribution = ISM (logits) against the motif mask, mean per-sequence AUROC / auPR over the "
        "first 200 positive test sequences.",
        "",
    ]
    if missing_ke:
        lines += [f"{missing_ke} run(s) have no KE record yet (`motifbench results score RUN_DIR ...` adds it).", ""]
    lines += ["## Table", "", main_table, f"![GT match vs first-layer pool size]({figure_ref})", "",
              "## Against the papers", "",
              "The papers' value beside ours wherever one is on file (`baselines/published.py`, with its source); "
              "verdict = whether the difference is within 2 sd (combined sd of both, or the one that exists). "
              "Rows sourced to REFERENCE.md §7 (its summary of Koo & Eddy 2019 and Koo & Ploenzke 2021) read "
              "the papers' qualitative findings as ranges for our mean x (`baselines.published.FINDINGS`: "
              "\"most\" = above one half, \"~0.95-0.97\" = rounds to it, \"few\" = at most the quoted best of "
              "pools <= 4 plus 2 sd): weaker evidence than a published number.", "",
              paper_table]
    return "\n".join(lines) + "\n"


def score_runs(run_dirs: Sequence[Path | str], *, data: str | None = None, config: str = "synthetic",
               methods: Sequence[str] | None = None, keep_artifacts: bool = False) -> list[dict[str, str]]:
    """Score run folders (``model.onnx`` + spec.json) with the evaluator, one record per PPM method.

    Records are cached exactly as in a sweep (`baselines.sweep.evaluate_run`).
    Without ``keep_artifacts`` only the JSON records are kept (logos, MEME file
    and Tomtom TSV are removed), so bundled runs stay small.

    Returns one ``{"run_dir", method: status, ...}`` dict per run.
    """
    from baselines.sweep import EVAL_FILES, PPM_METHODS, evaluate_run

    run_dirs = as_roots(run_dirs)
    methods = tuple(dict.fromkeys(str(m).strip().lower() for m in (methods or PPM_METHODS)))
    unknown = [m for m in methods if m not in PPM_METHODS]
    if unknown:
        raise BaselineError(f"unknown PPM method(s) {', '.join(map(repr, unknown))}; expected {' and '.join(PPM_METHODS)}")
    statuses = []
    for run_dir in run_dirs:
        if not (run_dir / ONNX_FILE).is_file():
            raise BaselineError(f"{run_dir}: no {ONNX_FILE} to score")
        status: dict[str, str] = {"run_dir": str(run_dir)}
        for method in methods:
            status[method] = evaluate_run(run_dir, data_source=data, config=config, method=method).status
        if not keep_artifacts:
            folder = run_dir / Path(EVAL_FILES["nmi"]).parent
            for item in folder.iterdir():
                if item.suffix != ".json":
                    shutil.rmtree(item) if item.is_dir() else item.unlink()
        statuses.append(status)
    return statuses
