"""Work the evaluation runs beside its stages: logo drawing in a thread and the heavy-import preload."""
from __future__ import annotations

import sys

import pytest

import evaluator.stages as stages
from evaluator.preload import evaluation_modules, preload


def test_logo_job_hands_back_the_artifacts_and_its_time(monkeypatch, tmp_path):
    def fake_logos(ppms, clipped, recovery, out_dir, stem, engine, reference):
        (out_dir / f"{stem}.png").write_bytes(b"\x89PNG")
        return {"filter_logos": f"{stem}.png"}

    monkeypatch.setattr(stages, "logos_stage", fake_logos)
    job = stages.start_logos([], [], {}, tmp_path, "rec", "fast", None)
    names, seconds = job.result()
    assert names == {"filter_logos": "rec.png"} and seconds >= 0
    assert (tmp_path / "rec.png").read_bytes() == b"\x89PNG"


def test_logo_job_reraises_what_the_drawing_raised(monkeypatch, tmp_path):
    def broken(*_args):
        raise OSError("disk full while writing rec.filter_pairs.png")

    monkeypatch.setattr(stages, "logos_stage", broken)
    job = stages.start_logos([], [], {}, tmp_path, "rec", "fast", None)
    with pytest.raises(OSError, match="disk full"):
        job.result()


def test_preload_imports_in_a_thread_and_skips_what_is_loaded():
    name = "xml.dom.minidom"  # small, not imported by the test run so far
    if name in sys.modules:
        del sys.modules[name]
    thread = preload(["json", name])
    assert thread is not None
    thread.join(timeout=30)
    assert name in sys.modules
    assert preload(["json", name]) is None  # nothing left to import: no thread
    assert preload(["no_such_module_for_motifbench"]).join(timeout=30) is None  # a failure is left to the stage


def test_preload_calls_an_importer_function_after_its_module(tmp_path, monkeypatch):
    name = "motifbench_preload_probe"
    (tmp_path / f"{name}.py").write_text("CALLS = []\n\ndef load():\n    CALLS.append('loaded')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    preload([f"{name}:load"]).join(timeout=30)
    assert sys.modules[name].CALLS == ["loaded"]
    assert preload([f"{name}:load"]) is None  # imported already: not called again


def test_evaluation_modules_follow_the_parts_switched_on():
    assert evaluation_modules(True, True)[:2] == ["scipy.sparse", "torch"]  # the PPM stage's first, then the biggest
    assert "torch" not in evaluation_modules(False, True)
    assert evaluation_modules(False, False) == ["scipy.sparse", "jsonschema"]
    assert not any(m.startswith("matplotlib") for m in evaluation_modules(False, True))  # logos draw with Pillow


def test_a_background_job_hands_back_the_value_and_reraises_errors():
    job = stages.BackgroundJob(lambda a, b: a + b, 2, 3, name="sum")
    value, seconds = job.result()
    assert value == 5 and seconds >= 0

    def broken():
        raise ValueError("no examples to draw")

    with pytest.raises(ValueError, match="no examples"):
        stages.BackgroundJob(broken).result()


def test_the_examples_picture_draws_in_a_thread_without_pyplot(tmp_path):
    import numpy as np

    from evaluator.attribution_plots import example_maps, has_examples

    examples = {"method": "saliency", "ids": ["s1", "s2"], "classes": ["CTCF", "SP1"],
                "contributions": np.sin(np.arange(400, dtype=float)).reshape(2, 200),
                "own": np.zeros((2, 200), bool), "distractor": np.zeros((2, 200), bool)}
    examples["own"][0, 50:60] = True
    assert has_examples(examples) and not has_examples({"ids": []}) and not has_examples(None)
    before = set(sys.modules)
    job = stages.BackgroundJob(example_maps, examples, tmp_path / "ex.png")
    path, _ = job.result()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000
    assert "matplotlib.pyplot" not in set(sys.modules) - before  # pyplot's global figure registry is not thread-safe
