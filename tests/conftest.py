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
