"""`motifbench submit / queue / worker` end to end through the umbrella CLI, plus the baseline path."""
from __future__ import annotations

import json

import onnx

from motifbench.cli import main
import corpus
from submissions.model_facts import parameter_count
from submissions.export import read_leaderboard
from submissions.store import FINISHED
from submissions.sqlite_store import open_store

MANIFEST = {
    "model_name": "cli model",
    "submitter": "tests",
    "dataset": {"config": "synthetic", "version": "1.0.0"},
    "output_kind": "probabilities",
    "license": "MIT",
    "architecture": {"framework": "onnx", "activation": "relu", "first_layer_pool": 4, "params": 10_000},
}



def test_submit_queue_worker(home, tmp_path, synthetic_repo, capsys):
    model = corpus.save(corpus.cnn_model(31), tmp_path / "model.onnx")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(MANIFEST))
    data = ["--data", str(synthetic_repo)]

    assert main(["submit", str(model), "--manifest", str(manifest), *data]) == 0
    sub_id = capsys.readouterr().out.strip()
    assert sub_id.startswith("sub-")

    assert main(["submit", str(model), "--manifest", str(manifest), *data]) == 4
    assert "rejected [duplicate]" in capsys.readouterr().err

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(corpus.pickle_bytes())
    assert main(["submit", str(junk), "--manifest", str(manifest), "--json", *data]) == 4
    answer = json.loads(capsys.readouterr().out)
    assert answer["rejected"] and answer["code"] == "not_onnx"

    assert main(["queue"]) == 0
    table = capsys.readouterr().out
    assert sub_id in table and "PENDING" in table and "PENDING 1" in table

    done = tmp_path / "done.json"
    assert main(["worker", "--once", "--limit", "40", "--no-attribution", "--no-artifacts", "--heartbeat", "0.5",
                 "--json-out", str(done)]) == 0
    assert f"{sub_id}  FINISHED" in capsys.readouterr().out
    assert [(r["id"], r["state"]) for r in json.loads(done.read_text())] == [(sub_id, FINISHED)]

    assert main(["queue", "--json", "--state", "finished"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [sub_id] and rows[0]["attempts"] == 1
    assert main(["queue", "--id", sub_id, "--record"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["record"]["dataset"]["n_sequences"] == 40 and shown["trial"]["tap"] == "first_layer"
    row = read_leaderboard().to_pylist()[0]
    assert (row["model_name"], row["activation"], row["first_layer_pool"]) == ("cli model", "relu", 4)
    assert row["params"] == parameter_count(onnx.load(str(model))) != 10_000  # counted, not as declared
    assert row["baseline"] is False and 0.0 <= row["auroc"] <= 1.0

    (home / "submissions" / "leaderboard.parquet").unlink()
    assert main(["queue", "--export"]) == 0
    assert read_leaderboard().num_rows == 1


def test_submit_baseline_run_folder(home, tmp_path, synthetic_repo, capsys):
    import torch

    from baselines.export import save_weights
    from baselines.model import build_model
    from baselines.zoo import get_spec

    spec = get_spec("cnn-25")
    torch.manual_seed(0)
    net = build_model(spec, "exp", 200).eval()
    run = tmp_path / "run"
    run.mkdir()
    save_weights(net, run / "model.safetensors")
    (run / "spec.json").write_text(json.dumps({
        "zoo_name": spec.name, "spec": spec.to_dict(), "activation": "exp", "input_length": 200, "seed": 0,
        "parameters": {"trainable": sum(p.numel() for p in net.parameters() if p.requires_grad)},
    }))
    assert main(["submit", str(run), "--baseline", "--data", str(synthetic_repo)]) == 0, capsys.readouterr().err
    sub_id = capsys.readouterr().out.strip()
    with open_store() as store:
        sub = store.get(sub_id)
    assert sub.baseline and sub.manifest["architecture"]["activation"] == "exp"
    assert sub.manifest["architecture"]["first_layer_pool"] == 25 and sub.manifest["first_layer_tap"] == "first_layer"
    assert sub.model_name == "cnn-25-exp-seed0" and sub.trial["n_filters"] == 30
    assert sub.state != FINISHED
