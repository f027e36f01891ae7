"""The leaderboard's baseline bundle (``space_app/baseline_models``), refreshed from run records.

The papers report every model as mean ± sd over 5-10 trained seeds. The
bundle ships, for each family (zoo model x first-layer activation x protocol),
the records of every finished seed (``spec.json`` plus the evaluator records of
both PPM methods, small JSON) and the ONNX file of one seed (the lowest). The
Space queues that ONNX through the normal submission path, so one seed of
each family is scored by the evaluator it runs; the family row on the
leaderboard adds the shipped records of the other seeds (mean ± sd, n). A run
folder with ``model.onnx`` is queued; one without is a record only.

Each copied ``spec.json`` gains a ``family`` key: ``<model>-<activation>`` and
the protocol label (``cnn-25-relu koo2019``, ``cnn-25-relu koo2019 (epochs 40
patience 6)``), so runs trained under different protocols never share a
leaderboard family, nor with rows a store holds from an earlier bundle
(whose family was ``<model>-<activation>`` alone). One bundle holds one protocol per model and
activation; a root with several is refused unless ``protocol`` picks one.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from baselines.errors import BaselineError
from baselines.export import ONNX_FILE, SPEC_FILE, WEIGHTS_FILE, read_json_object
from baselines.presets import matching_preset
from baselines.results import METRICS, as_roots, collect_runs, protocol_label, summarize_runs

#: Evaluator records copied per run (relative to the run folder): NMI (with attribution), then KE.
RECORD_FILES = ("evaluation/result.json", "evaluation/result.ke.json")
README = "README.md"


@dataclass(frozen=True)
class BundleResult:
    """What `write_baseline_bundle` wrote: the folder, the runs (one row each) and the family summary."""

    folder: Path
    runs: pd.DataFrame
    summary: pd.DataFrame
    onnx_runs: tuple[str, ...]


def family_name(record: dict[str, Any]) -> str:
    """The leaderboard family of a run record: ``<model>-<activation> <protocol label>``.

    record : a run's spec.json as a dict.
    """
    label = protocol_label(record.get("protocol") or {}).replace(",", "")  # manifest names allow no commas
    return f"{record['zoo_name']}-{record['activation']} {label}"


def bundle_runs(roots: Sequence[Path | str], protocol: str | None = None) -> pd.DataFrame:
    """The runs a bundle would hold: every distinct finished run under ``roots`` with an NMI record.

    Parameters
    ----------
    roots : folders searched for run folders (sweep outputs).
    protocol : str, optional
        Keep only runs whose protocol label (``koo2019``, ``koo2019 (epochs 40, patience 6)``) is this.
    """
    roots = as_roots(roots)
    runs = collect_runs(roots)
    if runs.empty:
        raise BaselineError(f"no finished run records under {', '.join(map(str, roots))}")
    runs = runs[[(Path(d) / RECORD_FILES[0]).is_file() for d in runs["run_dir"]]]
    if protocol is not None:
        runs = runs[runs["protocol_label"] == protocol]
    if runs.empty:
        raise BaselineError("no run has an evaluator record (evaluation/result.json)"
                            + (f" under protocol {protocol!r}" if protocol else "")
                            + ": score them first (motifbench results score RUN_DIR...)")
    labels = runs.groupby(["model", "activation"])["protocol_label"].unique()
    mixed = {f"{m}/{a}": sorted(v) for (m, a), v in labels.items() if len(v) > 1}
    if mixed:
        raise BaselineError(f"runs of one model under several protocols ({mixed}): a bundle holds one protocol "
                            "per model; pick one with --protocol LABEL")
    duplicated = runs[runs.duplicated(["model", "activation", "seed"], keep=False)]
    if not duplicated.empty:
        raise BaselineError("two different runs of the same model, activation and seed: "
                            + ", ".join(sorted(set(duplicated["run_dir"]))))
    return runs.reset_index(drop=True)


def write_baseline_bundle(roots: Sequence[Path | str], out: Path | str, *, protocol: str | None = None,
                          command: str | None = None) -> BundleResult:
    """Replace the run folders of ``out`` with the records of every finished run under ``roots``.

    Per family the lowest seed that has ``model.onnx`` keeps it; every run keeps ``spec.json`` (with
    its ``family``) and its evaluator records. Other files in ``out`` (a figure, notes) stay; the
    README is rewritten with the families (n, mean ± sd). The new folders are written beside
    ``out`` first and swapped in, so a failure leaves the old bundle as it was.
    """
    out = Path(out)
    runs = bundle_runs(roots, protocol)
    trained_here = [d for d in runs["run_dir"] if out.resolve() in Path(d).resolve().parents
                    and (Path(d) / WEIGHTS_FILE).is_file()]
    if trained_here:  # the swap below replaces out's run folders: a training run there would lose its weights
        raise BaselineError(f"--out {out} holds training runs the bundle would replace ({trained_here[0]}); "
                            "write the bundle to another folder")
    out.mkdir(parents=True, exist_ok=True)
    onnx_runs: list[str] = []
    with tempfile.TemporaryDirectory(dir=out, prefix=".bundle-") as tmp:
        staged = Path(tmp)
        runs = runs.sort_values(["model", "activation", "seed"]).reset_index(drop=True)
        for _, group in runs.groupby(["model", "activation"], sort=False):
            with_onnx = [d for d in group["run_dir"] if (Path(d) / ONNX_FILE).is_file()]
            for _, run in group.iterrows():
                src = Path(run["run_dir"])
                name = f"{run['model']}-{run['activation']}-seed{run['seed']}"
                dst = staged / name
                (dst / "evaluation").mkdir(parents=True)
                record = read_json_object(src / SPEC_FILE)
                record["family"] = family_name(record)
                (dst / SPEC_FILE).write_text(json.dumps(record, indent=2) + "\n")
                for rel in RECORD_FILES:
                    if (src / rel).is_file():
                        shutil.copy2(src / rel, dst / rel)
                if with_onnx and run["run_dir"] == with_onnx[0]:
                    shutil.copy2(src / ONNX_FILE, dst / ONNX_FILE)
                    onnx_runs.append(name)
        blocked = [new.name for new in staged.iterdir()
                   if (out / new.name).exists() and not (out / new.name / SPEC_FILE).is_file()]
        if blocked:  # checked before anything is removed, so a failure leaves the old bundle whole
            raise BaselineError(f"{out} holds {', '.join(blocked[:3])}, which is not a bundled run; move it away")
        for old in out.iterdir():  # earlier run folders go; the figure and other files stay
            if old.is_dir() and (old / SPEC_FILE).is_file():
                shutil.rmtree(old)
        for new in staged.iterdir():
            new.rename(out / new.name)
    summary = summarize_runs(runs)
    (out / README).write_text(_readme(runs, summary, onnx_runs, command))
    return BundleResult(out, runs, summary, tuple(onnx_runs))


def _reproduce(runs: pd.DataFrame) -> list[str]:
    """README lines naming the sweep that retrains these runs, when they are exactly one preset's grid."""
    preset = matching_preset(zip(runs["model"], runs["activation"], runs["seed"], runs["protocol_label"]))
    if preset is None:
        return []
    threads = set(runs["threads"]) if "threads" in runs else {None}
    same_threads = f" --threads {threads.pop()}" if len(threads) == 1 and None not in threads else ""
    return [f"These are exactly the runs of the `{preset.name}` preset: {preset.description}. These two "
            "commands retrain and score every one of them and rebuild this folder; on CPU a run repeats its "
            "numbers on the same kind of CPU at the same thread count"
            + (" (the command passes the count these runs used)" if same_threads else "") + ":", "",
            "```", f"motifbench sweep --preset {preset.name} --out runs/{preset.name} --evaluate{same_threads}",
            f"motifbench results bundle runs/{preset.name} --out space_app/baseline_models", "```", ""]


def _readme(runs: pd.DataFrame, summary: pd.DataFrame, onnx_runs: list[str], command: str | None) -> str:
    headers = {"test_auroc": "AUROC", "match_ground_truth_fraction": "GT match NMI",
               "match_ground_truth_fraction_ke": "GT match KE", "coverage_count": "coverage NMI"}
    digits = {key: d for key, _, d in METRICS}
    lines = [
        "# Bundled baseline models", "",
        f"{len(runs)} finished run(s) of {len(summary)} family(ies) (zoo model x first-layer activation x "
        "protocol), written by `motifbench results bundle`"
        + (f":\n\n```\n{command}\n```\n" if command else "."), "",
        "Every run folder holds the run's `spec.json` (every training setting, the dataset's content hashes "
        "and its leaderboard `family`) and the evaluator's records on the synthetic test split "
        "(`evaluation/result.json`: NMI PPMs with attribution; `evaluation/result.ke.json`: KE PPMs). "
        f"One seed per family also holds `model.onnx` ({len(onnx_runs)} file(s)): `motifbench serve` queues "
        "those through the normal submission path when the served dataset has the content hashes they were "
        "trained on, and the worker scores them with the evaluator it runs. The leaderboard's family view "
        "(one row per family) adds the records of the other seeds: mean ± sd (ddof 1) and n over all of "
        "them. `motifbench results table space_app/baseline_models` builds docs/results.md from the same "
        "records.", "", *_reproduce(runs),
        "| family | protocol | n | seeds | " + " | ".join(headers.values()) + " |",
        "|---|---|---:|---|" + "---:|" * len(headers),
    ]
    for _, row in summary.iterrows():
        cells = []
        for key in headers:
            mean, sd, n = row.get(f"{key}_mean"), row.get(f"{key}_sd"), row.get(f"{key}_n", 0)
            d = digits[key]
            cells.append("-" if not n else f"{mean:.{d}f}" if n == 1 else f"{mean:.{d}f} ± {sd:.{d}f}")
        lines.append(f"| {row['model']}-{row['activation']} | {row['protocol']} | {row['n_runs']} | {row['seeds']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
