"""Baseline run folders become ONNX in the umbrella CLI; the evaluator itself only opens ONNX files."""
from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from pathlib import Path

import pytest

from benchmark.errors import MotifbenchError
from evaluator.model_source import onnx_source
from evaluator.onnx_model import OnnxModel
from motifbench.checkpoints import convert_model_argument, export_run_folder


def _run_folder(tmp_path: Path) -> Path:
    from baselines.export import save_weights
    from baselines.model import build_model
    from baselines.zoo import get_spec

    spec = get_spec("cnn-25")
    run = tmp_path / "run"
    run.mkdir()
    save_weights(build_model(spec, "exp", 200), run / "model.safetensors")
    (run / "spec.json").write_text(json.dumps({"zoo_name": "cnn-25", "activation": "exp", "input_length": 200,
                                               "spec": spec.to_dict()}))
    return run


def test_export_rejects_folders_that_are_not_runs(tmp_path):
    with pytest.raises(MotifbenchError, match="not a baseline run folder"):
        export_run_folder(tmp_path, tmp_path / "work")


def test_the_evaluator_takes_onnx_files_only(tmp_path):
    with pytest.raises(MotifbenchError, match="is a folder; the evaluator takes one .onnx file"):
        onnx_source(tmp_path)
    with pytest.raises(MotifbenchError, match="does not exist"):
        onnx_source(tmp_path / "nothing.onnx")


def test_baseline_checkpoint_goes_through_the_onnx_door(tmp_path):
    """A run folder (safetensors + spec.json) is exported with baselines.export, then opened like any ONNX."""
    source = export_run_folder(_run_folder(tmp_path), tmp_path / "work")
    assert source.kind == "baseline-checkpoint" and source.name == "cnn-25-exp"
    assert Path(source.onnx_path).parent == tmp_path / "work"
    info = OnnxModel(source.onnx_path, 200).info
    assert info.tap_name == "first_layer" and info.n_filters == 30 and info.filter_width == 19
    assert (info.output_kind, info.output_kind_source) == ("probabilities", "metadata")


def test_cli_argument_conversion_exports_beside_the_record(tmp_path):
    run = _run_folder(tmp_path)
    args = argparse.Namespace(command="evaluate", model=run, out=tmp_path / "out" / "r.json")
    with ExitStack() as stack:
        convert_model_argument(args, stack)
    assert args.model == tmp_path / "out" / "run.onnx" and args.model.is_file()
    assert args.model_source.spec["zoo_name"] == "cnn-25"
    plain = argparse.Namespace(command="evaluate", model=tmp_path / "x.onnx", out=tmp_path / "r.json")
    with ExitStack() as stack:
        convert_model_argument(plain, stack)
    assert plain.model == tmp_path / "x.onnx" and not hasattr(plain, "model_source")


def test_evaluate_command_on_a_run_folder_records_the_checkpoint(tmp_path, synthetic_repo):
    """`motifbench evaluate RUN_FOLDER`: exported by the umbrella CLI, recorded as a baseline checkpoint."""
    from motifbench.cli import main

    run = _run_folder(tmp_path)
    out = tmp_path / "eval" / "r.json"
    assert main(["evaluate", str(run), "--data", str(synthetic_repo), "--out", str(out), "--limit", "40",
                 "--no-attribution", "--quiet"]) == 0
    record = json.loads(out.read_text())
    assert record["model"]["kind"] == "baseline-checkpoint" and record["model"]["name"] == "cnn-25-exp"
    assert record["model"]["given_path"] == str(run) and record["model"]["spec"]["zoo_name"] == "cnn-25"
    assert record["artifacts"]["onnx"] == "run.onnx" and (out.parent / "run.onnx").is_file()
