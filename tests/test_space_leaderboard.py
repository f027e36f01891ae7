"""The leaderboard table: read from the exported parquet, one comparable view at a time."""
from __future__ import annotations

import pandas as pd
import pytest

from space_app import leaderboard as lb
from leaderboard_seed import seed_results
from submissions.export import leaderboard_path


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path))
    return tmp_path


def _frame(home) -> pd.DataFrame:
    return lb.LeaderboardSource(leaderboard_path(home / "submissions")).frame()


def test_empty_store_gives_empty_views(home):
    frame = _frame(home)
    assert frame.empty
    assert lb.views(frame) == []
    table = lb.display_table(lb.select_rows(frame, None))
    assert table.empty and list(table.columns)[-1] == "ID"


def test_views_never_mix_dataset_versions_or_evaluator_majors(home):
    seed_results(3, home, seed=1, dataset_version="1.0.0", evaluator_version="1.0.0")
    seed_results(2, home, seed=2, dataset_version="1.1.0", evaluator_version="1.2.0")
    seed_results(4, home, seed=3, dataset_version="1.1.0", evaluator_version="2.0.0")
    frame = _frame(home)
    assert len(frame) == 9
    keys = lb.views(frame, "synthetic")
    assert [(k.version, k.evaluator_major) for k in keys] == [("1.1.0", "2"), ("1.1.0", "1"), ("1.0.0", "1")]
    sizes = {(k.version, k.evaluator_major): len(lb.select_rows(frame, k)) for k in keys}
    assert sizes == {("1.1.0", "2"): 4, ("1.1.0", "1"): 2, ("1.0.0", "1"): 3}
    for key in keys:
        rows = lb.select_rows(frame, key)
        assert set(rows["dataset_version"]) == {key.version}
        assert set(rows["evaluator_major"]) == {key.evaluator_major}
    assert lb.view_from_label(frame, keys[1].label) == keys[1]
    assert lb.view_from_label(frame, "synthetic · data v9 · evaluator 9.x") is None


def test_filters_columns_and_rounding(home):
    seed_results(6, home)  # activations alternate relu/exp; every third row is a baseline
    frame = _frame(home)
    view = lb.views(frame)[0]
    assert lb.activations(frame, view) == ["all", "exp", "relu"]
    exp_rows = lb.select_rows(frame, view, activation="exp")
    assert len(exp_rows) == 3 and set(exp_rows["activation"]) == {"exp"}
    assert lb.select_rows(frame, view, kind=lb.BASELINE)["baseline"].all()
    assert not lb.select_rows(frame, view, kind=lb.COMMUNITY)["baseline"].any()

    rows = lb.select_rows(frame, view)
    gt = rows["match_ground_truth"].tolist()
    assert gt == sorted(gt, reverse=True), "default order: GT match, best first"
    table = lb.display_table(rows)
    assert list(table.columns) == [*lb.DEFAULT_COLUMNS, "ID"]
    assert set(lb.display_table(rows, [*lb.DEFAULT_COLUMNS, "Type"])["Type"]) == {"baseline", "community"}
    assert all(round(v, 3) == v for v in table["AUROC"])
    assert all(0 <= int(v) <= 12 for v in table["Coverage (/12)"])
    assert table["ID"].str.startswith("sub-").all()
    narrow = lb.display_table(rows, ["Model", "AUROC"])
    assert list(narrow.columns) == ["Model", "AUROC", "ID"], "ID stays: the detail view needs it"


def test_source_rereads_only_when_the_file_changes(home):
    seed_results(2, home)
    source = lb.LeaderboardSource(leaderboard_path(home / "submissions"))
    first = source.frame()
    assert source.frame() is first
    seed_results(1, home, seed=5)
    assert len(source.frame()) == 3


@pytest.mark.parametrize("version,major", [("1.0.0", "1"), ("v2.3.1", "2"), ("10.0.0-rc1", "10"), (None, "?"), ("x", "?")])
def test_evaluator_major(version, major):
    assert lb.evaluator_major(version) == major
