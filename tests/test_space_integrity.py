"""The leaderboard's integrity parts: tie-aware rank bands, ± columns, gap, family rows, rounds on About."""
from __future__ import annotations

import pandas as pd

from space_app import leaderboard as lb
from space_app.families import display_family_table, family_rows
from space_app.integrity_view import detail_lines, rounds_markdown
from submissions.export import LEADERBOARD_SCHEMA


def _frame(rows: list[dict]) -> pd.DataFrame:
    base = {name: None for name in LEADERBOARD_SCHEMA.names}
    full = [{**base, "dataset_config": "synthetic", "dataset_version": "1.0.0", "evaluator_version": "2.1.0",
             "baseline": True, **r} for r in rows]
    return lb.prepare(pd.DataFrame(full))


def test_rank_bands_ties_and_order():
    frame = _frame([
        {"id": "a", "model_name": "a", "match_ground_truth": 0.90, "match_ground_truth_lo": 0.85,
         "match_ground_truth_hi": 0.95, "auroc": 0.9, "auroc_lo": 0.88, "auroc_hi": 0.92, "public_auroc": 0.95},
        {"id": "b", "model_name": "b", "match_ground_truth": 0.88, "match_ground_truth_lo": 0.80,
         "match_ground_truth_hi": 0.93, "auroc": 0.8},
        {"id": "c", "model_name": "c", "match_ground_truth": 0.50, "match_ground_truth_lo": 0.45,
         "match_ground_truth_hi": 0.55, "auroc": 0.7},
        {"id": "d", "model_name": "d", "match_ground_truth": 0.52, "match_ground_truth_lo": None,
         "match_ground_truth_hi": None, "auroc": 0.6},
    ])
    rows = lb.select_rows(frame, lb.views(frame)[0])
    assert rows["id"].tolist() == ["a", "b", "d", "c"]
    assert rows["rank_band"].tolist() == [1, 1, 3, 3]  # a/b overlap; c and d overlap each other, not a or b
    table = lb.display_table(rows, ["Rank", "Model", "AUROC", "AUROC ±", "Gap AUROC"])
    assert table.columns.tolist() == ["Rank", "Model", "AUROC", "AUROC ±", "Gap AUROC", "ID"]
    first = table.iloc[0].to_dict()
    assert first["AUROC ±"] == 0.02 and first["Gap AUROC"] == 0.05
    # a score without its interval says so (never a blank that reads as missing data), a missing score is n/a
    shown = lb.display_table(rows, ["Rank", "Model", "GT match", "GT match ±", "AUROC ±"])
    by_id = {r["ID"]: r for r in shown.to_dict("records")}
    assert by_id["a"]["GT match ±"] == 0.05 and by_id["d"]["GT match ±"] == lb.NO_INTERVAL
    assert by_id["b"]["AUROC ±"] == lb.NO_INTERVAL  # its AUROC column is not shown; the value is still there
    frame.loc[frame["id"] == "c", ["match_ground_truth", "match_ground_truth_lo", "match_ground_truth_hi",
                                   "match_ground_truth_pm"]] = None
    rows = lb.select_rows(frame, lb.views(frame)[0])
    shown = lb.display_table(rows, ["Rank", "Model", "GT match", "GT match ±"])
    last = shown.iloc[-1].to_dict()
    assert last["ID"] == "c" and last["GT match"] == "n/a" and last["GT match ±"] == "n/a" and last["Rank"] == 4


def test_family_rows_are_mean_sd_and_n():
    frame = _frame([
        {"id": f"s{i}", "model_name": f"cnn-seed{i}", "family": "cnn", "seed": i, "match_ground_truth": v,
         "auroc": 0.9, "activation": "relu"} for i, v in enumerate((0.8, 0.9, 1.0))
    ] + [{"id": "x", "model_name": "solo", "match_ground_truth": 0.2, "auroc": 0.5}])
    table = family_rows(lb.select_rows(frame, lb.views(frame)[0]))
    cnn = table[table["family"] == "cnn"].iloc[0]
    assert cnn["n_seeds"] == 3 and abs(cnn["match_ground_truth_mean"] - 0.9) < 1e-12
    assert abs(cnn["match_ground_truth_sd"] - 0.1) < 1e-12 and cnn["activation"] == "relu"
    shown = display_family_table(lb.select_rows(frame, lb.views(frame)[0]))
    assert shown.iloc[0]["GT match"] == "0.900 ± 0.100" and shown.iloc[0]["Seeds (n)"] == 3
    assert shown.iloc[1]["Family"] == "solo" and shown.iloc[1]["GT match"] == "0.200"


def test_detail_lines_and_rounds_page(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("MOTIFBENCH_ROUND_SECRET", raising=False)
    assert "No round has started" in rounds_markdown()
    from benchmark import rounds

    r1 = rounds.ensure_round()
    secret = rounds.load_secret().hex()
    page = rounds_markdown()
    assert r1.commitment in page and secret not in page and "secret until the round ends" in page
    rounds.rotate()
    page = rounds_markdown()
    assert secret in page and "(matches)" in page  # the ended round's seed is published, checked
    record = {"results": {"classification": {"macro_auroc": 0.9}, "motif_recovery": {"coverage": 1.0},
                          "uncertainty": {"settings": {"resamples": 1000, "recovery_resamples": 50, "seed": 1},
                                          "classification": {"macro_auroc": [0.88, 0.92], "macro_aupr": [0.5, 0.6]},
                                          "motif_recovery": None, "attribution": None}},
              "round": {"id": "r1", "commitment": r1.commitment},
              "public_test": {"macro_auroc": 0.95, "macro_aupr": None, "coverage": 1.0}}
    text = "\n".join(detail_lines(record))
    assert "[0.880, 0.920]" in text and "round r1" in text and "AUROC +0.050" in text and "coverage +0.000" in text
