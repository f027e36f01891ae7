"""The shipped baselines go through the submission door and the worker and get attribution and discovery scores.

Two of the bundled ONNX files (``space_app/baseline_models``: the ReLU CNN-25 and the exponential
CNN-1) are submitted as ``serve`` submits them (:func:`submissions.intake.submit` with the manifest
derived from ``spec.json``, flagged as baselines) and scored by the worker with the service settings
(:data:`submissions.cli.SERVICE_EVAL_PARAMS`: IG, DeepLIFT/SHAP, class ISM, discovery) on the small test
split, counts reduced to keep it short. The leaderboard row and the detail view must carry the
attribution and discovery numbers, and, unlike tap-less models, the first-layer columns are filled.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from space_app.bundled_baselines import BUNDLE_DIR
from submissions.cli import SERVICE_EVAL_PARAMS
from submissions.export import read_leaderboard
from submissions.intake import baseline_manifest, submit
from submissions.sqlite_store import open_store
from submissions.store import FINISHED
from submissions.worker import Worker, WorkerConfig

RUNS = ("cnn-25-relu-seed0", "cnn-1-exp-seed0")
#: the hidden round's seed for this test (64 hex digits)
ROUND_SEED = "5eed" * 16
#: the service settings with fewer sequences, resamples, IG steps, shuffles and Leiden runs (the small split)
EVAL = {**SERVICE_EVAL_PARAMS, "attribution_sequences": 150, "bootstrap_resamples": 200,
        "randomisation_sequences": 30, "ism_sequences": 20}



@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_shipped_baselines_get_attribution_and_discovery_beside_first_layer_scores(home, synthetic_repo, monkeypatch):
    # the worker scores on the hidden round's test: a fixed round seed makes it one test set, not a new draw per
    # run (discovery on 150 sequences is a small sample: its coverage moves from draw to draw)
    monkeypatch.setenv("MOTIFBENCH_ROUND_SECRET", ROUND_SEED)
    from space_app.detail import build_detail
    from space_app.leaderboard import LeaderboardSource
    from submissions.export import leaderboard_path

    with open_store() as store:
        ids = {}
        for run in RUNS:
            spec = json.loads((BUNDLE_DIR / run / "spec.json").read_text())
            sub = submit(BUNDLE_DIR / run / "model.onnx", baseline_manifest(spec, spec["dataset"]["version"]),
                         data=synthetic_repo, store=store, baseline=True)
            assert sub.trial["tap"] is not None, sub.trial  # a first-layer tap is found
            ids[run] = sub.id
        Worker(store, WorkerConfig(eval_params=EVAL, time_limit=1500, heartbeat_seconds=1.0)).run(once=True)
        subs = {run: store.get(i) for run, i in ids.items()}
        frame = LeaderboardSource(leaderboard_path(home / "submissions")).frame()
        details = {run: build_detail(sub.id, frame, store=store) for run, sub in subs.items()}
    rows = {r["id"]: r for r in read_leaderboard().to_pylist()}
    for run, sub in subs.items():
        assert sub.state == FINISHED, (run, sub.reason)
        rec = sub.record
        assert rec["parameters"]["eval"]["slow_attribution"] and rec["parameters"]["eval"]["discovery"]
        grad = rec["results"]["gradient_attribution"]
        # the shipped exports carry a logits output: the converter differentiates it, checked against ONNX Runtime
        assert grad["status"] == "gradients" and grad["conversion"]["target_source"] == "logits output"
        assert grad["conversion"]["max_abs_diff_vs_onnxruntime"] <= grad["conversion"]["tolerance"]
        assert set(grad["methods"]) >= {"saliency_corrected", "grad_x_input_corrected",
                                        "integrated_gradients_corrected", "deeplift_shap_corrected", "ism"}
        # trained models: every gradient method points at the explained class's own motifs well above chance
        for name, m in grad["methods"].items():
            assert m["auroc"]["ci_low"] > 0.6, (run, name, m["auroc"])
        assert all(d is not None and d > 0.1 for d in grad["randomisation"]["drop"].values()), grad["randomisation"]
        disc = rec["results"]["discovery"]
        assert disc is not None and "error" not in disc, disc
        assert disc["n_patterns"] >= 1 and disc["coverage_count"] >= 1, disc
        row = rows[sub.id]
        assert row["baseline"]
        # first-layer columns filled (and equal to the record) next to the attribution and discovery ones
        recovery = rec["results"]["motif_recovery"]
        assert row["n_filters"] == recovery["n_filters"] > 0
        assert row["coverage_count"] == recovery["coverage_count"]
        assert row["match_ground_truth"] == pytest.approx(recovery["match_ground_truth_fraction"])
        for fam in ("saliency", "grad_x_input", "integrated_gradients", "deeplift_shap"):
            assert row[f"attr_{fam}_auroc"] == pytest.approx(grad["methods"][f"{fam}_corrected"]["auroc"]["mean"])
            assert np.isfinite(row[f"attr_{fam}_aupr"])
        assert row["discovery_coverage"] == disc["coverage_count"]
        assert row["discovery_match"] == pytest.approx(disc["match_ground_truth_fraction"])
        # the detail view: the scores table with the same numbers, the discovery line and both pictures
        d = details[run]
        deeplift = grad["methods"]["deeplift_shap_corrected"]["auroc"]["mean"]
        assert f"| DeepLIFT/SHAP (corrected) | {deeplift:.3f} [" in d.attribution
        assert f"coverage {disc['coverage_count']}/12" in d.attribution
        assert f"{recovery['coverage_count']}/12" in d.header  # first-layer coverage in the header
        for png in (d.pattern_logos, d.attribution_examples):
            assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
