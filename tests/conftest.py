"""Shared test setup: offline, a temporary data home, and small real datasets.

Tests never touch the network or the user's cache: every session gets its own
MOTIFBENCH_HOME, and Hugging Face / Gradio are told to stay offline.
"""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("motifbench_home")
    old = os.environ.get("MOTIFBENCH_HOME")
    os.environ["MOTIFBENCH_HOME"] = str(home)
    os.environ.setdefault("HF_HOME", str(home / "hf"))
    yield home
    if old is None:
        os.environ.pop("MOTIFBENCH_HOME", None)
    else:
        os.environ["MOTIFBENCH_HOME"] = old


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    """A fresh data home for one test (``MOTIFBENCH_HOME`` = ``tmp_path / "home"``); a module may override it."""
    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests save screenshots, plots and other things a person may want to look at."""
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def synthetic_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real dataset repo folder: the koo2019 generator with N = 2,000 (1,400 / 200 / 400 rows).

    Read-only for tests: copy it before changing anything inside.
    """
    from benchmark.synthetic import build_synthetic

    out = tmp_path_factory.mktemp("synthetic_repo") / "motifbench"
    build_synthetic(out, preset="koo2019", n=2_000)
    return out


#: Tests marked ``slow`` (real training, worker subprocesses, full dataset builds, long evaluations,
#: the large MEME parity grids): ``pytest -m "not slow and not browser"`` is the quick loop, and
#: ``scripts/test.sh`` still runs everything. Keyed by module, or by module::test-name prefix.
SLOW_TESTS = (
    "test_submissions_worker.py",
    "test_baselines_train.py",
    "test_baselines_sweep.py::test_sweep_resumes",
    "test_baselines_sweep.py::test_summary_reports",
    "test_baselines_sweep.py::test_resume_refuses",
    "test_baselines_sweep.py::test_evaluate_flag",
    "test_baselines_zoo.py::test_forward_shapes_at_both_lengths",
    "test_baselines_zoo.py::test_channels_last_training_forward",
    "test_baselines_ray.py",
    "test_baselines_results.py::test_table_reports",
    "test_baselines_results.py::test_results_command",
    "test_baselines_results.py::test_model_repo_folder",
    "test_baselines_export.py",
    "test_benchmark_dataset.py::test_full_koo2019_build",
    "test_benchmark_dataset.py::test_cli_build_verify_exit_codes",
    "test_benchmark_generator.py",
    "test_tomtom_parity.py::test_thresholded_output_matches_meme[all__",
    "test_tomtom_parity.py::test_every_pair_matches_meme",
    "test_tomtom_parity.py::test_qvalue_threshold_is_a_prefix_of_the_ranking",
    "test_tomtom_parity.py::test_jaspar_targets_are_the_file_meme_read[2024]",
    "test_deepsea_errors.py",
    "test_evaluator_pipeline.py",
    "test_evaluator_ism_logits.py",
    "test_evaluator_logos.py::test_fast_engine_matches_logomaker",
    "test_submissions_cli.py",
    "test_submissions_export.py",
    "test_submissions_intake.py::test_hostile_submission_is_rejected_with_its_code",
    "test_space_pages.py",
    "test_space_bundled_baselines.py",
    "test_deepsea_build.py",
    "test_motifbench_checkpoints.py",
    "test_import_contracts.py",
    "test_integrity_service.py::test_hidden_rounds_end_to_end",
    "test_integrity_service.py::test_old_records_stay_in_their_version_view",
    "test_evaluator_uncertainty.py::test_auroc_interval_covers_the_known_value_in_simulation",
    "test_evaluator_uncertainty.py::test_resample_fractions_follow_motif_recovery_definitions",
    "test_benchmark_rounds.py::test_two_rounds",
    "test_cli_ux.py::test_evaluate_defaults_out",
    "test_cli_ux.py::test_closed_pipe_exits_quietly",
    "test_params_count.py::test_torch_export_with_and_without_folding",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        where = f"{item.path.name}::{item.name}"
        if any(where == key or where.startswith(key if "::" in key else key + "::") for key in SLOW_TESTS):
            item.add_marker(pytest.mark.slow)
