"""Models without a first-layer tap go through the normal door and get attribution and discovery scores.

A dilated residual CNN (dilated first conv) and a small transformer (two-branch conv stem + 2 attention
blocks), built in PyTorch, trained briefly, exported to ONNX, submitted with ``submit`` and evaluated by
the worker with the service settings (DeepLIFT/SHAP, class ISM, discovery). Their first-layer columns
are n/a (null in the record and the leaderboard, "n/a" on the page), never zero.
"""
from __future__ import annotations

import numpy as np
import pytest

from attribution_models import DilatedResidualCNN, TinyTransformer, export, train_quickly
from benchmark.loader import load_split
from submissions.cli import SERVICE_EVAL_PARAMS
from submissions.export import read_leaderboard
from submissions.intake import submit
from submissions.sqlite_store import open_store
from submissions.store import FINISHED
from submissions.worker import Worker, WorkerConfig

MANIFEST = {"submitter": "tests", "dataset": {"config": "synthetic", "version": "1.0.0"},
            "output_kind": "probabilities", "license": "MIT"}
#: the service settings, on the small test split (400 rows), with fewer bootstrap resamples
#: ISM's default 4,800 mutants per ONNX Runtime call need 3 GB of attention scores for this transformer
#: (4 heads x 200 x 200 x 4,800 x 4 B) and break the worker's 6 GiB limit: 600 per call here
#: (ISM is slow on attention: 3L forward passes per sequence; a handful here, the point is the pipeline)
EVAL = {**SERVICE_EVAL_PARAMS, "attribution_sequences": 200, "bootstrap_resamples": 200,
        "randomisation_sequences": 40, "ism_sequences": 4, "ism_batch_mutants": 600, "ig_steps": 8,
        "shap_shuffles": 5, "modisco_leiden_runs": 2}



@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_dilated_cnn_and_transformer_get_attribution_and_discovery_with_na_first_layer(home, tmp_path, synthetic_repo):
    train = load_split(synthetic_repo, split="train")
    models = {"dilated residual CNN": train_quickly(DilatedResidualCNN(), train.x, train.y, epochs=4),
              "tiny transformer": train_quickly(TinyTransformer(), train.x[:700], train.y[:700], epochs=1)}
    with open_store() as store:
        ids = {}
        for name, model in models.items():
            path = export(model, tmp_path / f"{name.replace(' ', '_')}.onnx")
            sub = submit(path, {**MANIFEST, "model_name": name}, data=synthetic_repo, store=store)
            assert sub.trial["tap"] is None and sub.trial["tap_missing"], sub.trial
            ids[name] = sub.id
        Worker(store, WorkerConfig(eval_params=EVAL, time_limit=1500, heartbeat_seconds=1.0)).run(once=True)
        subs = {name: store.get(i) for name, i in ids.items()}
    rows = {r["id"]: r for r in read_leaderboard().to_pylist()}
    for name, sub in subs.items():
        assert sub.state == FINISHED, (name, sub.reason)
        rec = sub.record
        assert rec["model"]["tap_name"] is None and rec["model"]["tap_missing"]
        assert rec["results"]["motif_recovery"] is None
        grad = rec["results"]["gradient_attribution"]
        assert grad["status"] == "gradients" and grad["n_sequences"] == 200
        assert set(grad["methods"]) >= {"saliency", "grad_x_input_corrected", "integrated_gradients_corrected",
                                        "deeplift_shap_corrected", "ism"}
        for m in grad["methods"].values():
            assert 0.0 <= m["auroc"]["mean"] <= 1.0 and m["auroc"]["ci_low"] <= m["auroc"]["ci_high"]
        assert grad["randomisation"]["steps"], name
        disc = rec["results"]["discovery"]
        assert disc is not None and disc["n_patterns"] >= 0 and 0 <= disc["coverage_count"] <= 12
        row = rows[sub.id]
        for first_layer in ("match_ground_truth", "coverage_count", "match_jaspar", "n_filters"):
            assert row[first_layer] is None, (name, first_layer)  # n/a, never 0
        assert row["attr_grad_x_input_auroc"] == pytest.approx(grad["methods"]["grad_x_input_corrected"]["auroc"]["mean"])
        assert row["discovery_coverage"] == disc["coverage_count"]
    # (a few CPU epochs leave these models near chance: the score's quality is tested on the planted detector)
    dilated = subs["dilated residual CNN"].record["results"]["gradient_attribution"]["methods"]
    assert np.isfinite(dilated["integrated_gradients_corrected"]["aupr"]["mean"])


def test_no_tap_page_shows_na_not_zero(home, tmp_path, synthetic_repo):
    """The leaderboard table renders missing first-layer columns as "n/a"."""
    import pandas as pd

    from space_app import leaderboard as lb

    frame = lb.prepare(pd.DataFrame([{"id": "a", "model_name": "m", "baseline": False, "auroc": 0.8,
                                      "match_ground_truth": None, "coverage_count": None, "match_jaspar": None,
                                      "attr_grad_x_input_auroc": 0.71, "discovery_coverage": 5}]))
    table = lb.display_table(frame, [*lb.DEFAULT_COLUMNS, "Attr AUROC grad×input", "Discovery (/12)"])
    assert table.loc[0, "GT match"] == "n/a" and table.loc[0, "Coverage (/12)"] == "n/a"
    assert table.loc[0, "Attr AUROC grad×input"] == 0.71 and table.loc[0, "Discovery (/12)"] == 5
