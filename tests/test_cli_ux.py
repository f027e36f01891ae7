"""The CLI and README as a new user meets them: examples that run as written, quiet pipes, precise usage."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from motifbench.cli import EXIT_BROKEN_PIPE, main

REPO = Path(__file__).resolve().parent.parent


def _readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


def test_readme_load_dataset_example_runs_as_written(synthetic_repo, tmp_path, monkeypatch):
    """Item 10: the README's load_dataset line works with no editing (no literal ``~`` reaching datasets)."""
    block = next(b for b in _readme_python_blocks() if "load_dataset(" in b)
    assert '"~' not in block and "'~" not in block
    # the three lines of the example (the block may also build a dataset: not run here)
    block = "\n".join(line for line in block.splitlines()
                      if line.startswith(("from datasets import", "from benchmark.paths import", "ds = load_dataset(")))
    assert block.count("\n") == 2, block
    home = tmp_path / "home"
    (home / "datasets").mkdir(parents=True)
    (home / "datasets" / "motifbench").symlink_to(synthetic_repo)
    monkeypatch.setenv("MOTIFBENCH_HOME", str(home))
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)  # noqa: S102 - the README's own example
    assert scope["ds"]["test"].num_rows == 400


def _run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """Run ``motifbench ARGS`` with a stdout whose reader is already gone (``| head`` after it exited)."""
    proc = subprocess.Popen([sys.executable, "-m", "motifbench", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(120)
    return subprocess.CompletedProcess(args, proc.returncode, "", err)


@pytest.mark.parametrize("command", [["queue"], ["zoo"], ["motifs"]])
def test_closed_pipe_exits_quietly(command):
    """Item 11: ``motifbench queue | head -3`` ends without a BrokenPipeError traceback."""
    done = _run_into_closed_pipe(*command)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == EXIT_BROKEN_PIPE


def test_mistyped_subcommand_flag_shows_the_subcommand_usage(capsys):
    """Item 12: ``train --activaton`` names the train command, not the top-level usage."""
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "cnn-25", "--activaton", "exp"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: motifbench train" in err and "--activation" in err
    assert "unrecognized arguments: --activaton" in err
    with pytest.raises(SystemExit):
        main(["data", "build", "synthetic", "--bogus"])
    assert "usage: motifbench data build synthetic" in capsys.readouterr().err


def test_evaluate_defaults_out_and_names_the_record_after_the_model(synthetic_repo, tmp_path, monkeypatch):
    """Item 13: no --out needed; ``my-cnn/model.onnx`` is the model ``my-cnn`` in results/my-cnn.json."""
    import corpus

    (tmp_path / "my-cnn").mkdir()
    model = corpus.save(corpus.cnn_model(3), tmp_path / "my-cnn" / "model.onnx")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["evaluate", str(model), "--data", str(synthetic_repo), "--limit", "40", "--no-attribution",
                 "--quiet"]) == 0
    record = json.loads((work / "results" / "my-cnn.json").read_text())
    assert record["model"]["name"] == "my-cnn"
    assert (work / "results" / record["artifacts"]["filter_logos"]).is_file()


def test_evaluate_process_ends_fast_with_its_output_and_files_complete(synthetic_repo, tmp_path):
    """``python -m motifbench evaluate`` skips Python's teardown (os._exit): nothing it prints or writes is lost."""
    import corpus

    model = corpus.save(corpus.cnn_model(3), tmp_path / "m.onnx")
    out = tmp_path / "res" / "m.json"
    with open(tmp_path / "stdout.txt", "w") as stdout:  # a file, not a terminal: block-buffered output
        done = subprocess.run([sys.executable, "-m", "motifbench", "evaluate", str(model), "--data", str(synthetic_repo),
                               "--limit", "40", "--no-attribution", "--quiet", "--out", str(out)], stdout=stdout,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert done.returncode == 0, done.stderr
    printed = (tmp_path / "stdout.txt").read_text()
    assert "AUROC (macro)" in printed and printed.rstrip().endswith(f"record: {out}")
    record = json.loads(out.read_text())
    for name in record["artifacts"].values():
        assert (out.parent / name).stat().st_size > 0
    failed = subprocess.run([sys.executable, "-m", "motifbench", "evaluate", str(tmp_path / "missing.onnx"), "--quiet"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert failed.returncode != 0 and "error:" in failed.stderr and "Traceback" not in failed.stderr


def test_default_model_name_rules(tmp_path):
    from evaluator.naming import default_model_name, default_record_path

    assert default_model_name(tmp_path / "runs" / "cnn-25-exp" / "model.onnx") == "cnn-25-exp"
    assert default_model_name(tmp_path / "deep-cnn.onnx") == "deep-cnn"
    assert default_record_path("my model/v2") == Path("results/my_model_v2.json")


def test_readme_minimal_manifest_is_valid(tmp_path):
    """Item 14: the manifest shown next to ``submit`` passes the manifest schema as written."""
    from submissions.manifest import load_manifest

    readme = (REPO / "README.md").read_text()
    assert "minimal `manifest.yaml`" in readme
    block = re.search(r"minimal `manifest.yaml`.*?```yaml\n(.*?)```", readme, flags=re.S).group(1)
    path = tmp_path / "manifest.yaml"
    path.write_text(block)
    manifest = load_manifest(path)
    assert (manifest.model_name, manifest.dataset_config) == ("my-cnn", "synthetic")


def test_readme_states_measured_first_start_times():
    """Item 14: how long the first serve takes, with the script that measures it."""
    readme = (REPO / "README.md").read_text()
    assert "perf/first_serve.py" in readme and re.search(r"\d+(\.\d+)? s to the page", readme)
    assert (REPO / "perf" / "first_serve.py").is_file()
