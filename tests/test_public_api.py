"""Each part's __init__ names its public API, resolved on first use so `import part` stays cheap."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_importing_the_parts_loads_no_heavy_library():
    code = ("import sys, json, benchmark, baselines, evaluator, submissions, space_app; "
            "print(json.dumps({m: m in sys.modules for m in ('numpy', 'onnxruntime', 'torch', 'gradio', 'onnx')}))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == {"numpy": False, "onnxruntime": False, "torch": False, "gradio": False,
                                       "onnx": False}


@pytest.mark.parametrize("package, names", [
    ("benchmark", ["load_split", "motif_set", "dataset_info", "DATASET_CONFIGS"]),
    ("baselines", ["get_spec", "model_names", "train_run", "get_protocol", "export_checkpoint"]),
    ("evaluator", ["evaluate", "evaluate_arrays", "EvaluationResult", "EvalParams", "load_reference", "read_meme"]),
    ("submissions", ["submit", "open_store", "SubmissionRejected"]),
    ("space_app", ["serve", "write_space_bundle", "ensure_dataset"]),
])
def test_public_names_resolve(package, names):
    import importlib

    module = importlib.import_module(package)
    for name in names:
        assert name in module.__all__ and getattr(module, name) is not None
    with pytest.raises(AttributeError):
        getattr(module, "no_such_name")


@pytest.mark.parametrize("package", ["benchmark", "baselines", "evaluator", "submissions", "space_app"])
def test_no_public_name_shadows_a_submodule(package):
    """`import part.x` must keep meaning the module x: no API name may equal a submodule's."""
    import importlib
    import pkgutil

    module = importlib.import_module(package)
    submodules = {m.name for m in pkgutil.iter_modules(module.__path__)}
    assert not submodules & set(module._API), submodules & set(module._API)


def test_motifbench_error_is_a_value_error():
    from benchmark import MotifbenchError, dataset_config

    assert issubclass(MotifbenchError, ValueError)
    with pytest.raises(ValueError, match="unknown dataset config 'nope'"):
        dataset_config("nope")


def test_motif_set_names_match_the_dataset_table():
    from benchmark import DATASET_CONFIGS, motif_set

    assert all(len(motif_set().names) == c.n_classes for c in DATASET_CONFIGS.values())
