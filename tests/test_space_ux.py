"""What a scientist reads on the Space: one name per metric, three decimals, explained matches, honest plots."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from space_app import glossary, leaderboard, plots
from space_app.about import about_markdown
from space_app.detail import filter_table, why_it_counts
from space_app.leaderboard_plots import auroc_vs_gt_match, gt_match_by_pool
from space_app.page_head import head_html


def test_every_metric_has_one_name_on_the_table_the_legend_and_about():
    """Item 3: the leaderboard's headers, its legend and About use the same names and definitions."""
    about = about_markdown()
    legend = glossary.legend_markdown()
    for name in (glossary.GT_MATCH, glossary.COVERAGE, glossary.JASPAR_MATCH, glossary.ATTRIBUTION,
                 glossary.AUROC, glossary.AUPR, glossary.PARAMS):
        assert name in leaderboard.COLUMNS, name
        assert f"**{name}**: {glossary.DEFINITIONS[name]}" in legend
        assert f"**{name}**: {glossary.DEFINITIONS[name]}" in about, name
    for stale in ("Match JASPAR", "Coverage k/12"):
        assert stale not in about


def test_table_shows_three_decimals_and_thousands_separators():
    rows = pd.DataFrame({"model_name": ["a", "b"], "baseline": [True, False], "auroc": [0.5, 0.8923],
                         "aupr": [0.7, None], "match_ground_truth": [0.5, 0.125], "coverage_count": [4, 12],
                         "match_jaspar": [0.5, 1.0], "attribution_score": [None, 0.61], "activation": ["relu", "exp"],
                         "first_layer_pool": [1, 25], "params": [160048, 1234567], "submitter": ["x", "y"],
                         "finished_at": pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True), "id": ["i1", "i2"]})
    html = leaderboard.styled(leaderboard.display_table(rows)).to_html()
    for text in ("0.500", "0.892", "0.125", "1.000", "160,048", "1,234,567"):
        assert text in html, text
    assert ">0.5<" not in html and "nan" not in html.lower()


def test_header_tooltips_script_carries_the_definitions_and_cannot_close_itself():
    head = head_html()
    payload = head[head.index("const help = ") + len("const help = "):head.index(";\n  const apply")]
    assert json.loads(payload) == glossary.DEFINITIONS
    assert head.count("</script>") == 1 and "#leaderboard-table th" in head


def _entry(best_id, best_name, truth_id=None, truth_tf=None):
    best = {"target_id": best_id, "target_name": best_name, "e_value": 1e-6, "orientation": "+", "offset": 0}
    truth = None if truth_id is None else {"target_id": truth_id, "target_name": truth_tf, "ground_truth_tf": truth_tf,
                                           "e_value": 2e-5, "orientation": "+", "offset": 0}
    return {"filter": "filter7", "tested": True, "best_hit": best, "best_ground_truth_hit": truth,
            "ground_truth_tfs": [truth_tf] if truth_tf else []}


def test_a_ground_truth_match_behind_another_best_hit_is_explained():
    """Item 4: best match CEBPG beside "ground truth: CEBPB" says which hit counts and why."""
    accepted = {"CEBPB": ("MA0466.1", "MA0466.2")}
    text = why_it_counts(_entry("MA0838.1", "CEBPG", "MA0466.2", "CEBPB"), accepted)
    assert "MA0466.2" in text and "CEBPB's accepted list (MA0466.1, MA0466.2)" in text
    assert why_it_counts(_entry("MA0466.2", "CEBPB", "MA0466.2", "CEBPB"), accepted) == "best match is CEBPB's own motif"
    assert "accepted" in why_it_counts(_entry("MA0838.1", "CEBPG"), accepted)
    table = filter_table({"results": {"motif_recovery": {"filters": [_entry("MA0838.1", "CEBPG", "MA0466.2", "CEBPB")]}}})
    row = table.iloc[0]
    assert (row["Best Tomtom match"], row["Ground truth"]) == ("CEBPG", "yes: CEBPB")
    assert "MA0466.2" in row["Why it counts"]


def test_per_class_chart_legend_never_covers_a_bar_and_shows_1_0():
    """Item 1: the legend sits outside the axes; the y axis ends at a labelled 1.0."""
    record = {"results": {"classification": {"per_class": [
        {"tf": f"TF{i}", "auroc": 0.99, "aupr": 0.98} for i in range(12)]}}}
    fig = plots.per_class_chart(record)
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend_box = ax.get_legend().get_window_extent(renderer)
    axes_box = ax.get_window_extent(renderer)
    assert legend_box.y0 >= axes_box.y1 - 1, "legend overlaps the plotting area"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "1.0" and ax.get_ylim()[1] == pytest.approx(1.0)
    top_label = ax.get_yticklabels()[-1].get_window_extent(renderer)
    assert top_label.y1 <= fig.bbox.height  # not clipped at the top of the figure


def _rows(n_seeds: int, with_ci: bool = False) -> pd.DataFrame:
    rows = []
    for act in ("relu", "exp"):
        for pool in (1, 4, 25):
            for seed in range(n_seeds):
                gt = (0.1 if act == "relu" and pool < 10 else 0.8) + 0.02 * seed
                rows.append({"model_name": f"cnn-{pool}-{act}-s{seed}", "activation": act, "first_layer_pool": pool,
                             "auroc": 0.95 + 0.001 * seed, "match_ground_truth": gt})
    frame = pd.DataFrame(rows)
    if with_ci:
        frame["match_ground_truth_ci_low"] = frame["match_ground_truth"] - 0.05
        frame["match_ground_truth_ci_high"] = frame["match_ground_truth"] + 0.05
    return frame


def _error_bars(fig) -> list:
    ax = fig.axes[0]
    return [c for c in ax.containers if getattr(c, "has_yerr", False)]


def test_leaderboard_plots_show_the_papers_point_with_uncertainty_when_it_exists():
    """Item 9: AUROC vs GT match per model; GT match vs pool by activation; error bars from seeds or CIs."""
    scatter = auroc_vs_gt_match(_rows(1))
    points = np.vstack([c.lines[0].get_xydata() for c in scatter.axes[0].containers])
    assert len(points) == 6 and np.ptp(points[:, 0]) < 0.01 and np.ptp(points[:, 1]) > 0.5  # flat AUROC, spread GT
    assert not _error_bars(scatter)
    assert _error_bars(auroc_vs_gt_match(_rows(1, with_ci=True)))
    by_pool = gt_match_by_pool(_rows(3))
    lines = {c.get_label(): c for c in by_pool.axes[0].containers}
    assert set(lines) == {"relu", "exp"}
    relu = lines["relu"].lines[0].get_xydata()
    assert relu[:, 0].tolist() == [1, 4, 25] and relu[0, 1] == pytest.approx(0.12)  # mean over 3 seeds
    assert all(c.has_yerr for c in lines.values())  # seeds -> min-max bars
    assert not _error_bars(gt_match_by_pool(_rows(1)))
    empty = gt_match_by_pool(_rows(1).iloc[0:0])
    assert "no rows" in empty.axes[0].texts[0].get_text()


def test_number_formatting_never_trusts_a_record_value_to_be_a_number():
    assert (glossary.score(0.5), glossary.score(np.float32(0.8923)), glossary.score(None)) == ("0.500", "0.892", "n/a")
    assert glossary.score("0.9<script>") == "n/a" and glossary.score(float("nan")) == "n/a"
    assert glossary.score(True) == "n/a"
    assert (glossary.count(160048), glossary.count(np.int64(5000)), glossary.count(pd.NA)) == ("160,048", "5,000", "n/a")
    assert glossary.count("12") == "n/a" and glossary.count(1.5) == "n/a"


def test_leaderboard_plots_draw_hostile_names_as_plain_text():
    """A model name or activation holding TeX, markup or control characters never breaks a figure."""
    import io

    rows = _rows(1)
    rows["model_name"] = [r"$$\href{http://evil.example}{x}$$", "<svg onload=alert(1)>", "a\x00b", "$x^2$",
                          "ok", "y" * 500]
    rows["activation"] = [r"$\frac{1}{0}$", "relu", r"$\frac{1}{0}$", "relu", "exp", "exp"]
    for fig in (auroc_vs_gt_match(rows), gt_match_by_pool(rows)):
        fig.savefig(io.BytesIO(), format="png")  # mathtext would raise here
        texts = [t.get_text() for t in fig.axes[0].texts] + [t.get_text() for t in fig.axes[0].get_legend().texts]
        assert any(r"\$\frac{1}{0}\$" in t for t in texts)
        assert all(len(t) <= 60 and "\x00" not in t for t in texts)
