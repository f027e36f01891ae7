"""Baseline runs as a Hugging Face *model* repo folder: model card + ONNX + spec per run.

Layout written by `write_model_repo`::

    README.md                                   model card (YAML header, results per model x activation)
    manifest.json                               version, runs, sha256 of every file
    runs/<model>/<activation>/seed<k>/model.onnx
    runs/<model>/<activation>/seed<k>/spec.json
    runs/<model>/<activation>/seed<k>/evaluation/result.json, result.ke.json   (when scored)

`verify_model_repo` re-hashes every file against the manifest and checks each
run has its ONNX and spec; `publish_model_repo` makes the same checks as the
dataset's ``data publish`` (`benchmark.publish`: tag ``vX.Y.Z`` equal to the
manifest's version, ORG/NAME, verified folder, Hub online, token) before one
upload and one tag.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from baselines.errors import BaselineError
from baselines.export import ONNX_FILE, SPEC_FILE, read_json_object

MANIFEST = "manifest.json"
CARD = "README.md"
#: A release version: X.Y.Z in ASCII digits without leading zeros (``str.isdigit`` also takes "١").
_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
SCHEMA = "motifbench.baseline-model-repo/1"


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_model_repo(roots: Sequence[Path | str], out: Path | str, version: str, *,
                     title: str = "motifbench baseline CNNs") -> Path:
    """Copy every run record with an ONNX under ``roots`` into a model repo folder at ``out``.

    Parameters
    ----------
    roots : folders searched for run folders (as `baselines.results.find_run_dirs`)
    out : the folder to write (must not exist, or be empty)
    version : ``X.Y.Z`` of this release (the publish tag is ``vX.Y.Z``)
    """
    final = Path(out)
    if final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise BaselineError(f"{final} exists and is not empty (or not a folder); choose a new folder")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise BaselineError(f"version {version!r} is not X.Y.Z (digits 0-9, no leading zeros)")
    from baselines.results import as_roots

    roots = as_roots(roots)
    final.parent.mkdir(parents=True, exist_ok=True)
    # written beside ``out`` and moved into place at the end: a failure leaves no half-written repo behind
    out = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-"))
    try:
        _fill_model_repo(roots, out, version, title)
        if final.exists():
            final.rmdir()
        out.rename(final)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return final


def _fill_model_repo(roots: list[Path], out: Path, version: str, title: str) -> None:
    from baselines.results import collect_runs, find_run_dirs, markdown_tables, summarize_runs
    from baselines.sweep import EVAL_FILES

    runs, seen = [], set()
    for run_dir in find_run_dirs(roots):
        if not (run_dir / ONNX_FILE).is_file():
            continue
        spec = read_json_object(run_dir / SPEC_FILE)
        rel = Path("runs") / spec["zoo_name"] / spec["activation"] / f"seed{spec['seed']}"
        if rel in seen:
            raise BaselineError(f"two runs for {rel} under {', '.join(map(str, roots))}; publish one sweep at a time")
        seen.add(rel)
        target = out / rel
        target.mkdir(parents=True)
        for name in (ONNX_FILE, SPEC_FILE, *EVAL_FILES.values()):
            if (run_dir / name).is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(run_dir / name, target / name)
        runs.append({"path": rel.as_posix(), "model": spec["zoo_name"], "activation": spec["activation"],
                     "seed": spec["seed"], "protocol": spec.get("protocol", {}).get("name"),
                     "dataset_version": (spec.get("dataset") or {}).get("version")})
    if not runs:
        raise BaselineError(f"no run folders with {ONNX_FILE} under {', '.join(map(str, roots))}")
    summary = summarize_runs(collect_runs([out]))
    table, _ = markdown_tables(summary)
    (out / CARD).write_text(_card(title, version, runs, table))
    files = {p.relative_to(out).as_posix(): _sha256(p) for p in sorted(out.rglob("*")) if p.is_file()}
    manifest = {"schema": SCHEMA, "version": version, "runs": runs, "files_sha256": files}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def _card(title: str, version: str, runs: list[dict[str, Any]], table: str) -> str:
    datasets = sorted({str(r["dataset_version"]) for r in runs})
    header = ["---", "library_name: onnx", "license: mit", "pipeline_tag: tabular-classification",
              "tags:", "- genomics", "- motifbench", "- interpretability", "- onnx", "---", ""]
    body = [
        f"# {title} (v{version})",
        "",
        f"{len(runs)} trained runs of the Koo & Eddy 2019 / Koo & Ploenzke 2021 CNN zoo, rebuilt in PyTorch by "
        "motifbench and exported to ONNX in the submission contract: input `x` float32 `[batch, 4, L]` one-hot "
        "A,C,G,T; outputs `probabilities` `[batch, 12]`, `first_layer` (the filters' activations after batch "
        "norm and activation, before pooling) and `logits`.",
        "",
        f"Trained on motifbench synthetic dataset version(s) {', '.join(datasets)}. Each run folder holds "
        "`model.onnx`, `spec.json` (architecture, protocol, seed, dataset content hashes, versions, test "
        "AUROC/auPR) and, when scored, the evaluator's records (`evaluation/result.json` NMI PPMs with "
        "attribution, `evaluation/result.ke.json` KE PPMs). `manifest.json` lists the sha256 of every file.",
        "",
        "Reproduce any run: `motifbench sweep --preset results --out grid` (resumable), score it with "
        "`motifbench results score`, rebuild this table with `motifbench results table grid`.",
        "",
        "## Results (mean ± sd over seeds, n runs)",
        "",
        table,
    ]
    return "\n".join(header + body) + "\n"


def verify_model_repo(folder: Path | str) -> list[str]:
    """Problems with a model repo folder (empty list = publishable)."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return [f"{folder}: no {MANIFEST}"]
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        return [f"{MANIFEST} is not JSON: {exc}"]
    problems = []
    if manifest.get("schema") != SCHEMA:
        problems.append(f"{MANIFEST} schema is {manifest.get('schema')!r}, expected {SCHEMA!r}")
    listed = manifest.get("files_sha256") or {}
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    problems += [f"{name}: listed in {MANIFEST} but missing" for name in sorted(set(listed) - present)]
    problems += [f"{name}: not listed in {MANIFEST}" for name in sorted(present - set(listed))]
    problems += [f"{name}: sha256 differs from {MANIFEST}" for name in sorted(set(listed) & present)
                 if _sha256(folder / name) != listed[name]]
    for run in manifest.get("runs") or []:
        for name in (ONNX_FILE, SPEC_FILE):
            if f"{run['path']}/{name}" not in listed:
                problems.append(f"run {run['path']} has no {name}")
    if not manifest.get("runs"):
        problems.append("no runs")
    if CARD not in listed:
        problems.append(f"no model card ({CARD})")
    return problems


def publish_model_repo(folder: Path | str, repo_id: str, tag: str, token: str | None = None,
                       private: bool = False) -> str:
    """Upload a verified model repo folder to the Hub model repo ``repo_id`` and tag it; returns the
    commit URL. The checks and the upload are `benchmark.publish`'s, as for the dataset."""
    from benchmark.publish import PublishError, check_target, upload_and_tag

    folder = Path(folder)
    problems = verify_model_repo(folder)
    if problems:
        raise PublishError(f"{folder} failed verification:\n- " + "\n- ".join(problems))
    version = json.loads((folder / MANIFEST).read_text())["version"]
    check_target(repo_id, tag, version, what="version")
    return upload_and_tag(folder, repo_id, tag, repo_type="model", token=token, private=private,
                          message=f"motifbench baselines {tag}")
