"""Exports for the leaderboard: evaluator artifacts copied to ``results/<id>/`` (atomically, named in the
row), and model facts (framework, activation, pool, parameters) filled from the record and the stored ONNX
when the manifest leaves them out. Two jobs go through the real worker and evaluator once per module."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import corpus
from submissions import model_facts
from submissions.export import (
    ARTIFACT_COLUMNS,
    LEADERBOARD_SCHEMA,
    artifacts_dir,
    attempt_dir,
    export_all,
    export_submission,
    leaderboard_row,
    read_leaderboard,
    results_dir,
)
from submissions.store import FINISHED, submissions_home
from submissions.sqlite_store import open_store
from submissions.worker import Worker, WorkerConfig

MANIFEST = {
    "model_name": "export test",
    "submitter": "tests",
    "dataset": {"config": "synthetic", "version": "1.0.0"},
    "output_kind": "probabilities",
    "license": "MIT",
}
DECLARED = {"framework": "keras", "activation": "exp", "first_layer_pool": 3, "params": 123}
BARE = {"filters": 6, "kernel": 7, "pool": 8}


def _bare_model() -> onnx.ModelProto:
    model = corpus.cnn_model(7, **BARE)
    model.producer_name, model.producer_version = "pytorch", "2.13.0"
    return model


def _enqueue(store, model, name: str, data, tmp: Path, **manifest_patch) -> str:
    """Queue a model directly (as if intake had let it through) to test the worker's own defences."""
    return corpus.enqueue_unvalidated(store, model, {**MANIFEST, "model_name": name, **manifest_patch}, data, tmp)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, synthetic_repo) -> tuple[Path, dict[str, str]]:
    """A data home where the real worker finished two jobs with artifacts on: one bare manifest, one declaring
    every architecture fact. Tests that change files work on a copy (:func:`_copy_home`)."""
    home = tmp_path_factory.mktemp("export_home")
    tmp = tmp_path_factory.mktemp("export_models")
    with open_store(home) as store:
        ids = {
            "bare": _enqueue(store, _bare_model(), "bare", synthetic_repo, tmp),
            "declared": _enqueue(store, corpus.cnn_model(8, filters=5), "declared", synthetic_repo, tmp,
                                 architecture=DECLARED),
        }
        config = WorkerConfig(eval_params={"limit": 40, "attribution": False}, heartbeat_seconds=0.5, artifacts=True,
                              hidden=False, intervals=None)
        done = Worker(store, config, home=home).run(once=True)
    assert [(r.id, r.state) for r in done] == [(ids["bare"], FINISHED), (ids["declared"], FINISHED)], done
    return home, ids


def _copy_home(home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    return copy


def _rows(root: Path) -> dict[str, dict]:
    return {row["id"]: row for row in read_leaderboard(root).to_pylist()}


def _copied(record: dict) -> dict[str, str]:
    return {name: rel for name, rel in record["artifacts"].items() if name != "record"}


def test_artifacts_are_copied_next_to_the_result_json(finished):
    home, ids = finished
    root = submissions_home(home)
    rows = _rows(root)
    with open_store(home) as store:
        for sid in ids.values():
            sub = store.get(sid)
            copied = _copied(sub.record)
            assert set(copied) == {"filter_logos", "ground_truth_logos", "filters_meme", "tomtom_tsv"}
            run_out = attempt_dir(sid, sub.attempts, root) / "out"
            for name, rel in copied.items():
                stable = artifacts_dir(sid, root) / rel
                assert stable.read_bytes() == (run_out / rel).read_bytes(), name
                column = rows[sid][ARTIFACT_COLUMNS[name]]
                assert column == f"results/{sid}/{rel}" and (root / column).resolve() == stable.resolve()
            assert (root / rows[sid]["filter_logos_file"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert "MEME version" in (root / rows[sid]["filters_meme_file"]).read_text()
            assert (root / rows[sid]["tomtom_tsv_file"]).read_text().startswith("Query_ID")
            assert (root / rows[sid]["record_file"]).is_file()
    # nothing staged is left behind: one JSON and one folder per job
    assert sorted(p.name for p in results_dir(root).iterdir()) == sorted(
        [*ids.values(), *(f"{sid}.json" for sid in ids.values())])
    assert read_leaderboard(root).schema.names == LEADERBOARD_SCHEMA.names


def test_space_finds_the_logos_without_the_run_folders(finished, tmp_path):
    from space_app.records import logo_images

    root = submissions_home(_copy_home(finished[0], tmp_path))
    shutil.rmtree(root / "runs")
    sid = finished[1]["bare"]
    with open_store(root.parent) as store:
        record = store.get(sid).record
    filters, truth = logo_images(record, sid, root, cache=tmp_path / "redrawn")
    assert filters == artifacts_dir(sid, root) / record["artifacts"]["filter_logos"]
    assert truth == artifacts_dir(sid, root) / record["artifacts"]["ground_truth_logos"]
    assert not (tmp_path / "redrawn").exists(), "nothing was redrawn"


def test_reexport_replaces_copies_and_export_all_backfills(finished, tmp_path):
    home = _copy_home(finished[0], tmp_path)
    root = submissions_home(home)
    sid = finished[1]["bare"]
    with open_store(home) as store:
        sub = store.get(sid)
        run_out = attempt_dir(sid, sub.attempts, root) / "out"
        logo = artifacts_dir(sid, root) / sub.record["artifacts"]["filter_logos"]
        logo.write_bytes(b"stale")
        export_submission(store, sid, root)  # the folder exists: each file replaced in place
        assert logo.read_bytes() == (run_out / sub.record["artifacts"]["filter_logos"]).read_bytes()

        shutil.rmtree(artifacts_dir(sid, root))  # an export made before artifacts were copied
        (root / "leaderboard.parquet").unlink()
        assert _rows(root) == {}
        export_all(store, root)
        for rel in _copied(sub.record).values():
            assert (artifacts_dir(sid, root) / rel).read_bytes() == (run_out / rel).read_bytes()
        assert _rows(root)[sid]["filter_logos_file"] == f"results/{sid}/{sub.record['artifacts']['filter_logos']}"

        shutil.rmtree(artifacts_dir(sid, root))
        shutil.rmtree(root / "runs")  # nothing to copy from: the columns say so instead of naming missing files
        export_all(store, root)
    row = _rows(root)[sid]
    assert all(row[c] is None for c in ARTIFACT_COLUMNS.values())
    assert not artifacts_dir(sid, root).exists()


def test_model_facts_fill_what_the_manifest_leaves_out(finished):
    home, ids = finished
    rows = _rows(submissions_home(home))
    bare = rows[ids["bare"]]
    f, k, pool = BARE["filters"], BARE["kernel"], BARE["pool"]
    expected_params = f * 4 * k + f * (200 // pool) * 12 + 12  # conv weight + dense weight + dense bias
    assert (bare["framework"], bare["activation"], bare["first_layer_pool"], bare["params"], bare["n_filters"]) == (
        "pytorch", "relu", pool, expected_params, f)
    declared = rows[ids["declared"]]
    stated = {k: v for k, v in DECLARED.items() if k != "params"}
    assert {k: declared[k] for k in stated} == stated, "manifest values take precedence"
    # ... except params: counted from the ONNX for every model alike, whatever the manifest says
    assert declared["params"] == model_facts.parameter_count(corpus.cnn_model(8, filters=5)) != DECLARED["params"]
    assert declared["n_filters"] == 5
    with open_store(home) as store:
        sha = store.get(ids["bare"]).sha256
    assert (submissions_home(home) / model_facts.FACTS_DIR / f"{sha}.json").is_file()


def test_model_facts_come_from_the_cache_once_computed(finished, tmp_path):
    home = _copy_home(finished[0], tmp_path)
    sid = finished[1]["bare"]
    with open_store(home) as store:
        sub = store.get(sid)
        checkpoint = store.checkpoints.path(sub.sha256)
        checkpoint.chmod(0o644)
        checkpoint.unlink()
        model_facts.clear_memory_cache()
        row = leaderboard_row(sub, submissions_home(home), store.checkpoints)
        assert (row["params"], row["first_layer_pool"]) == (_rows(submissions_home(home))[sid]["params"], BARE["pool"])
        shutil.rmtree(submissions_home(home) / model_facts.FACTS_DIR)
        model_facts.clear_memory_cache()
        row = leaderboard_row(sub, submissions_home(home), store.checkpoints)
    # no checkpoint and no cache: the ONNX facts are blank, the record's facts remain, nothing raises
    assert (row["params"], row["first_layer_pool"]) == (None, None)
    assert (row["framework"], row["activation"], row["n_filters"]) == ("pytorch", "relu", BARE["filters"])


@pytest.mark.parametrize("path, expected", [
    (["Conv", "Relu"], "relu"),
    (["Conv", "BatchNormalization", "Exp"], "exp"),
    (["Conv", "Add", "Exp"], "exp"),
    (["Conv", "Transpose", "Relu", "Transpose"], "relu"),
    (["Conv", "Sigmoid", "Mul"], "silu"),
    (["Conv", "Sigmoid"], "sigmoid"),
    (["Conv", "LeakyRelu"], "leaky_relu"),
    (["Conv", "BatchNormalization"], None),
    (["Conv"], None),
    ([], None),
    (None, None),
])
def test_activation_from_the_tap_path(path, expected):
    assert model_facts.activation_from_tap_path(path) == expected


@pytest.mark.parametrize("model, expected", [
    ({"framework": None, "producer": "tf2onnx 1.16.1"}, "tensorflow"),
    ({"framework": "pytorch", "producer": "pytorch 2.13.0"}, "pytorch"),
    ({"framework": None, "producer": "mytool 0.1"}, "mytool"),
    ({"framework": None, "producer": ""}, None),
])
def test_framework_from_the_producer(model, expected):
    assert model_facts.framework_from_record(model) == expected


def _graph_model(nodes, tap_channels: int = 3, initializers=()) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((tap_channels, 4, 5), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["conv"]), helper.make_node("Relu", ["conv"], ["tap"]), *nodes],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 100])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[w, *initializers])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_first_layer_pool_and_parameter_count_from_the_graph(tmp_path):
    keras_like = _graph_model([  # tf2onnx: channels-last, a 1-D pool run as 2-D with a [1, k] window
        helper.make_node("Transpose", ["tap"], ["t"], perm=[0, 2, 1]),
        helper.make_node("Unsqueeze", ["t", "axes"], ["u"]),
        helper.make_node("MaxPool", ["u"], ["p"], kernel_shape=[1, 5]),
        helper.make_node("Identity", ["p"], ["y"]),
    ], initializers=[numpy_helper.from_array(np.array([1], np.int64), "axes")])
    assert model_facts.first_layer_pool(keras_like, "tap") == 5
    assert model_facts.parameter_count(keras_like) == 3 * 4 * 5, "integer tensors (axes) are not parameters"

    global_pool = _graph_model([helper.make_node("GlobalMaxPool", ["tap"], ["y"])])
    assert model_facts.first_layer_pool(global_pool, "tap") == model_facts.GLOBAL_POOL
    path = tmp_path / "global.onnx"
    onnx.save(global_pool, str(path))
    record = {"model": {"tap_name": "tap", "tap_path": ["Conv", "Relu"], "tap_length": 96, "n_filters": 3}}
    facts = model_facts.record_facts(record, path, "0" * 64, tmp_path / "cache")
    assert (facts["first_layer_pool"], facts["params"], facts["activation"]) == (96, 60, "relu")

    no_pool = _graph_model([
        helper.make_node("Constant", [], ["w2"], value=numpy_helper.from_array(np.ones((2, 3, 1), np.float32))),
        helper.make_node("Conv", ["tap", "w2"], ["y"]),
    ])
    assert model_facts.first_layer_pool(no_pool, "tap") == 1
    assert model_facts.parameter_count(no_pool) == 60 + 6, "Constant node values count"
    assert model_facts.first_layer_pool(no_pool, "not-a-tensor") is None


def test_facts_of_a_real_pytorch_baseline_export(tmp_path):
    """The exponential activation (the papers' point) is found on a real PyTorch export (ReLU: the corpus models)."""
    import torch

    from baselines.export import export_onnx
    from baselines.model import build_model
    from baselines.zoo import get_spec
    from evaluator.onnx_model import inspect_model

    torch.manual_seed(0)
    net = build_model(get_spec("cnn-25"), "exp", 200).eval()
    with torch.no_grad():  # distinct values everywhere: the exporter stores equal tensors only once
        for value in net.state_dict().values():
            if value.is_floating_point():
                value.uniform_(0.5, 1.5)
    path = export_onnx(net, tmp_path / "model.onnx")
    info = inspect_model(path, 200)
    record = {"model": {**info.as_dict(), "framework": info.producer.split()[0], "spec": None}}
    facts = model_facts.record_facts(record, path, info.sha256, tmp_path / "cache")
    assert (facts["framework"], facts["activation"], facts["first_layer_pool"], facts["n_filters"]) == (
        "pytorch", "exp", 25, 30)
    trainable = sum(p.numel() for p in net.parameters())
    # counted as if every batch norm were folded into the layer before it (the convs' are, by the export;
    # the dense layer's is stored with its running statistics): one parameter fewer per BN channel than
    # PyTorch's trainable count (gamma and beta become one weight scale and one bias)
    assert facts["params"] == trainable - (30 + 128 + 512) == 159_378


def test_incremental_row_upsert_equals_a_full_rebuild(tmp_path):
    """Each finish updates one row; the table must hold exactly what a rebuild from every record holds."""
    from leaderboard_seed import seed_results
    from submissions.export import export_all, export_submission, read_leaderboard

    home = tmp_path / "home"
    ids = seed_results(9, home, export_each=True)
    root = submissions_home(home)
    incremental = read_leaderboard(root)
    assert incremental.num_rows == 9 and sorted(incremental.column("id").to_pylist()) == sorted(ids)
    store = open_store(home)
    try:
        export_submission(store, ids[3], root)  # a re-export replaces its row, never duplicates it
        again = read_leaderboard(root)
        export_all(store, root)
    finally:
        store.close()
    rebuilt = read_leaderboard(root)
    by_id = lambda t: t.sort_by("id").to_pylist()  # noqa: E731
    assert by_id(again) == by_id(incremental)
    assert by_id(rebuilt) == by_id(incremental)


def test_worker_passes_the_declared_logits_output_to_attribution(tmp_path, synthetic_repo):
    """A manifest's logits_output reaches the evaluator: ISM differentiates that output, as the record says."""
    from onnx import TensorProto

    model = corpus.cnn_model(41)
    sigmoid = next(n for n in model.graph.node if n.op_type == "Sigmoid")
    model.graph.node.append(helper.make_node("Identity", [sigmoid.input[0]], ["raw_logits"]))
    model.graph.output.append(helper.make_tensor_value_info("raw_logits", TensorProto.FLOAT, ["batch", 12]))
    home = tmp_path / "home"
    with open_store(home) as store:
        job = _enqueue(store, model, "with logits", synthetic_repo, tmp_path, logits_output="raw_logits")
        config = WorkerConfig(eval_params={"limit": 40, "ism_sequences": 2}, heartbeat_seconds=0.5, artifacts=False,
                              hidden=False, intervals=None)
        done = Worker(store, config, home=home).run(once=True)
        assert [(r.id, r.state) for r in done] == [(job, FINISHED)], done
        record = store.get(job).record
    assert record["results"]["attribution"]["output_name"] == "raw_logits"
    assert record["model"]["logits_output"] == "raw_logits"
