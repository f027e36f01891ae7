"""Training: a short real run writes a complete run folder; CPU runs are deterministic; protocols and devices."""
from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file

from baselines import sweep as sw
from baselines.data import DataBundle, TensorSplit, load_data
from baselines.device import amp_settings, select_device
from baselines.errors import BaselineError
from baselines.metrics import macro_scores
from baselines.model import build_model
from baselines.protocols import PROTOCOLS, get_protocol
from baselines.run import MARKER_FILE, is_complete, train_run
from baselines.train import BatchFeeder, predict
from baselines.zoo import get_spec
from motifbench.cli import main

LIMIT = 300


@pytest.fixture(scope="module")
def small_data(synthetic_repo):
    return load_data(synthetic_repo, limit=LIMIT)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, small_data):
    out = tmp_path_factory.mktemp("runs") / "cnn25-exp"
    record = train_run("cnn-25", activation="exp", seed=0, protocol=get_protocol("koo2019", epochs=2),
                       out_dir=out, data=small_data, device="cpu", threads=1, progress=False)
    return out, record


def test_two_epoch_run_writes_every_output(finished_run, small_data):
    out, record = finished_run
    for name in ("model.safetensors", "model.onnx", "spec.json", "train_log.jsonl", "curves.png", MARKER_FILE):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert is_complete(out)
    spec = json.loads((out / "spec.json").read_text())
    assert spec == json.loads(json.dumps(record))
    assert spec["zoo_name"] == "cnn-25" and spec["activation"] == "exp" and spec["seed"] == 0
    assert spec["protocol"] == {**PROTOCOLS["koo2019"].to_dict(), "epochs": 2}
    assert spec["dataset"]["version"] and spec["dataset"]["limit"] == LIMIT
    assert spec["dataset"]["config"] == "synthetic"
    assert spec["motifbench_version"] and spec["torch_version"] == torch.__version__
    assert spec["device"] == "cpu" and spec["epochs_run"] == 2 and spec["best_epoch"] in (1, 2)
    assert spec["wall_time_seconds"] > 0 and spec["parameters"]["trainable"] == 160_048
    assert 0.0 <= spec["test"]["auroc"] <= 1.0 and 0.0 <= spec["test"]["aupr"] <= 1.0
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    assert {"loss", "val_loss", "val_aupr", "val_auroc", "lr"} <= set(log[0])
    assert log[-1]["best_epoch"] == spec["best_epoch"]
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the ONNX in the run folder reproduces the restored best weights, and the test metrics
    weights = load_file(str(out / "model.safetensors"))
    model = build_model(get_spec("cnn-25"), "exp", 200)
    model.load_state_dict(weights)
    probs = predict(model, small_data.test.x)
    onnx_probs, onnx_logits = ort.InferenceSession(str(out / "model.onnx")).run(
        ["probabilities", "logits"], {"x": small_data.test.x.numpy()})
    np.testing.assert_allclose(onnx_probs, probs, atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(onnx_logits, model.eval()(small_data.test.x).numpy(), atol=1e-5, rtol=1e-5)
    assert spec["onnx"]["logits_output"] == "logits" and spec["onnx"]["outputs"][0] == "probabilities"
    assert spec["weights_epoch"] == spec["best_epoch"]  # koo2019 restores the best epoch
    assert macro_scores(small_data.test.y.numpy(), probs).aupr == pytest.approx(spec["test"]["aupr"], abs=1e-6)


def test_cpu_training_is_deterministic_for_a_seed(tmp_path, small_data):
    protocol = get_protocol("nmi2021", epochs=1)
    a = train_run("cnn-2", activation="relu", seed=5, protocol=protocol, out_dir=tmp_path / "a", data=small_data,
                  device="cpu", threads=1, progress=False)
    b = train_run("cnn-2", activation="relu", seed=5, protocol=protocol, out_dir=tmp_path / "b", data=small_data,
                  device="cpu", threads=1, progress=False)
    wa, wb = load_file(str(tmp_path / "a/model.safetensors")), load_file(str(tmp_path / "b/model.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a["test"] == b["test"]
    c = train_run("cnn-2", activation="relu", seed=6, protocol=protocol, out_dir=tmp_path / "c", data=small_data,
                  device="cpu", threads=1, progress=False)
    assert c["test"] != a["test"]
    assert not torch.are_deterministic_algorithms_enabled()  # global state restored
    assert torch.utils.deterministic.fill_uninitialized_memory  # the NaN fill is off only while training


def test_freed_activation_buffers_stay_in_the_heap():
    """glibc (the test machines') takes the malloc settings that keep CPU steps from page-faulting."""
    from baselines.device import keep_freed_memory

    assert keep_freed_memory() is True


def test_finished_run_is_not_overwritten_silently(finished_run, small_data):
    out, _ = finished_run
    with pytest.raises(BaselineError, match="already holds a finished run"):
        train_run("cnn-25", activation="exp", seed=0, protocol=get_protocol("koo2019", epochs=1), out_dir=out,
                  data=small_data, device="cpu", progress=False)


def test_train_command_end_to_end(tmp_path, synthetic_repo, capsys):
    out = tmp_path / "cli-run"
    code = main(["train", "cnn-4", "--activation", "exp", "--seed", "1", "--data", str(synthetic_repo),
                 "--limit", "200", "--epochs", "1", "--batch-size", "50", "--lr", "0.002", "--patience", "3",
                 "--protocol", "nmi2021", "--device", "cpu", "--threads", "1", "--no-progress", "--out", str(out)])
    assert code == 0
    spec = json.loads((out / "spec.json").read_text())
    assert spec["protocol"]["batch_size"] == 50 and spec["protocol"]["lr"] == 0.002
    assert spec["protocol"]["patience"] == 3 and spec["protocol"]["monitor"] == "val_aupr"
    assert "test AUROC" in capsys.readouterr().out


def test_protocol_presets_and_overrides():
    koo = PROTOCOLS["koo2019"]
    assert (koo.lr, koo.beta1, koo.beta2, koo.adam_eps, koo.l2, koo.batch_size, koo.epochs, koo.patience) == \
        (1e-3, 0.95, 0.999, 1e-8, 1e-6, 100, 100, 20)
    assert koo.monitor == "val_loss" and koo.plateau_factor is None and koo.restore_best is True
    nmi = PROTOCOLS["nmi2021"]
    assert nmi.monitor == "val_aupr" and (nmi.plateau_factor, nmi.plateau_patience, nmi.plateau_min_lr) == (0.2, 5, 1e-7)
    assert nmi.restore_best is False  # the NMI code's EarlyStopping(restore_best_weights=False)
    assert get_protocol("koo2019", epochs=3, lr=None).epochs == 3
    with pytest.raises(BaselineError, match="unknown protocol"):
        get_protocol("adam")
    with pytest.raises(BaselineError, match="batch_size must be > 0"):
        get_protocol("koo2019", batch_size=0)
    with pytest.raises(BaselineError, match="plateau_patience must be >= 1"):
        get_protocol("nmi2021", plateau_patience=0)
    nan = float("nan")  # fails every comparison, so each rule is written to refuse it too
    for field, value, message in (("lr", nan, "lr must be > 0"), ("l2", nan, "patience and l2 must be >= 0"),
                                  ("adam_eps", 0.0, "adam_eps must be > 0"), ("beta1", 1.0, r"beta1 must be in \[0, 1\)"),
                                  ("beta2", nan, "beta2 must be in"), ("plateau_factor", 1.5, "plateau_factor must be in")):
        with pytest.raises(BaselineError, match=message):
            get_protocol("nmi2021", **{field: value})


def test_training_refuses_a_bad_seed_thread_count_or_too_few_rows(small_data, tmp_path):
    protocol = get_protocol("koo2019", epochs=1)
    for options, message in (({"seed": -1}, "seed must be a whole number >= 0"), ({"seed": 1.5}, "seed must be"),
                             ({"threads": 0}, "threads must be a whole number of at least 1"),
                             ({"threads": -3}, "threads must be")):
        with pytest.raises(BaselineError, match=message):
            train_run("cnn-25", activation="relu", protocol=protocol, out_dir=tmp_path / "r", data=small_data,
                      device="cpu", progress=False, **{"seed": 0, **options})
    x, y = small_data.train.x.numpy(), small_data.train.y.numpy()
    tiny = DataBundle.from_arrays((x[:1], y[:1]), (x[:5], y[:5]), (x[:5], y[:5]))
    with pytest.raises(BaselineError, match="too few rows to train on: train 1, valid 5, test 5"):
        train_run("cnn-25", activation="relu", seed=0, protocol=protocol, out_dir=tmp_path / "r", data=tiny,
                  device="cpu", progress=False)
    assert not (tmp_path / "r").exists()  # refused before a run folder was made
    with pytest.raises(BaselineError, match="seed must be"):
        sw.plan(["cnn-25"], ["relu"], [-2], tmp_path / "g", protocol)
    assert [t.seed for t in sw.plan(["cnn-25"], ["relu"], [1, 0, 1], tmp_path / "g", protocol)] == [0, 1]


def test_a_last_batch_of_one_row_is_left_out_since_batch_norm_cannot_train_on_it(small_data, tmp_path):
    x, y = small_data.train.x[:129], small_data.train.y[:129]
    feeder = BatchFeeder(TensorSplit(x, y), torch.device("cpu"), batch_size=64)
    sizes = [len(xb) for xb, _ in feeder.epoch(torch.Generator().manual_seed(0))]
    assert sizes == [64, 64] and len(feeder) == 2 and feeder.used == 128
    whole = BatchFeeder(TensorSplit(small_data.train.x[:130], small_data.train.y[:130]), torch.device("cpu"), batch_size=64)
    assert [len(xb) for xb, _ in whole.epoch(torch.Generator().manual_seed(0))] == [64, 64, 2]
    odd = DataBundle.from_arrays((x.numpy(), y.numpy()), (x[:20].numpy(), y[:20].numpy()),
                                 (x[:20].numpy(), y[:20].numpy()))
    record = train_run("cnn-25", activation="relu", seed=0, protocol=get_protocol("koo2019", epochs=1, batch_size=64),
                       out_dir=tmp_path / "odd", data=odd, device="cpu", threads=1, progress=False)
    assert record["epochs_run"] == 1  # PyTorch's batch norm refused the lone last row before this


def test_l2_penalty_is_adam_weight_decay_on_kernels_only():
    from baselines.train import _optimizer

    model = build_model(get_spec("cnn-25"), "relu", 200)
    opt = _optimizer(model, PROTOCOLS["koo2019"])
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == pytest.approx(2e-6) and plain["weight_decay"] == 0.0
    assert len(decayed["params"]) == 4  # conv1, conv2, dense, output kernels; no BN, no bias
    assert len(_optimizer(model, PROTOCOLS["nmi2021"]).param_groups[0]["params"]) == 3
    # d/dw of l2 * sum(w^2) is 2 * l2 * w: what Adam's coupled weight decay adds to the gradient
    w = torch.randn(5, requires_grad=True)
    (1e-6 * w.pow(2).sum()).backward()
    assert torch.allclose(w.grad, 2e-6 * w.detach())


def test_device_selection_with_mocked_availability():
    assert select_device("auto", cuda_available=True, mps_available=True).type == "cuda"
    assert select_device("auto", cuda_available=False, mps_available=True).type == "mps"
    assert select_device("auto", cuda_available=False, mps_available=False).type == "cpu"
    with pytest.raises(BaselineError, match="CUDA is not available"):
        select_device("cuda", cuda_available=False)
    with pytest.raises(BaselineError, match="unknown device"):
        select_device("tpu")


def test_amp_settings_per_device():
    assert amp_settings(torch.device("cpu")) == (False, torch.float32, False)
    cuda = torch.device("cuda")
    assert amp_settings(cuda, bf16_supported=True) == (True, torch.bfloat16, False)
    assert amp_settings(cuda, bf16_supported=False) == (True, torch.float16, True)
    assert amp_settings(cuda, enabled=False).enabled is False
    cpu = torch.device("cpu")
    assert amp_settings(cpu, cpu=True, bf16_supported=True) == (True, torch.bfloat16, False)
    assert amp_settings(cpu, cpu=True, enabled=False).enabled is False  # --no-amp wins
    assert amp_settings(cuda, cpu=True, bf16_supported=True) == (True, torch.bfloat16, False)  # no effect on CUDA
    with pytest.raises(BaselineError, match="native bfloat16"):
        amp_settings(cpu, cpu=True, bf16_supported=False)


def test_cpu_amp_trains_in_bfloat16_deterministically(tmp_path, small_data, monkeypatch):
    """--cpu-amp: bfloat16 autocast on CPU, recorded, the same bits for a seed, other bits than float32."""
    import baselines.device

    monkeypatch.setattr(baselines.device, "cpu_has_native_bf16", lambda: True)  # emulated where it is not native
    protocol = get_protocol("koo2019", epochs=1)
    runs = {}
    for key, cpu_amp in (("a", True), ("b", True), ("fp32", False)):
        runs[key] = train_run("cnn-25", activation="relu", seed=3, protocol=protocol, out_dir=tmp_path / key,
                              data=small_data, device="cpu", threads=1, progress=False, cpu_amp=cpu_amp)
    assert runs["a"]["amp"] == {"enabled": True, "dtype": "bfloat16"}
    assert runs["fp32"]["amp"] == {"enabled": False, "dtype": "float32"}
    w = {k: load_file(str(tmp_path / k / "model.safetensors")) for k in runs}
    assert all(torch.equal(w["a"][k], w["b"][k]) for k in w["a"])
    assert not torch.equal(w["a"]["stem.0.weight"], w["fp32"]["stem.0.weight"])
    assert w["a"]["stem.0.weight"].dtype == torch.float32  # float32 master weights
    assert runs["a"]["test"] == runs["b"]["test"]


def test_autocast_step_runs_and_stays_close_to_float32():
    """The CUDA path's autocast + GradScaler step, exercised with CPU autocast (bfloat16)."""
    torch.manual_seed(0)
    model = build_model(get_spec("cnn-25"), "exp", 200)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (8, 200)), 4).permute(0, 2, 1).float()
    y = torch.randint(0, 2, (8, 12)).float()
    model.eval()
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
    assert low.dtype == torch.bfloat16
    assert torch.allclose(low.float(), ref, atol=0.1, rtol=0.05)
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y)
    scaler.scale(loss).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_batch_feeder_serves_each_row_once_per_epoch(small_data):
    feeder = BatchFeeder(small_data.train, torch.device("cpu"), batch_size=64)
    rows = torch.cat([xb for xb, _ in feeder.epoch(torch.Generator().manual_seed(0))])
    assert len(feeder) == 5 and rows.shape == small_data.train.x.shape
    key = lambda t: sorted(map(tuple, t.flatten(1).argmax(1, keepdim=True).tolist()))  # noqa: E731
    assert torch.equal(rows.sum(0), small_data.train.x.sum(0)) and key(rows) == key(small_data.train.x)


def test_early_stopping_and_plateau_schedule(monkeypatch, small_data):
    """With a flat validation signal: stop after `patience` epochs, keep epoch 1, decay LR on plateau."""
    import baselines.train as train_mod
    from baselines.train import fit

    constant = np.full((small_data.valid.x.shape[0], 12), 0.3, dtype=np.float32)
    monkeypatch.setattr(train_mod, "predict", lambda *a, **k: constant)
    protocol = get_protocol("nmi2021", epochs=10, patience=4, plateau_patience=1, batch_size=150)
    torch.manual_seed(0)
    model = build_model(get_spec("cnn-2"), "relu", 200)
    result = fit(model, small_data, protocol, device=torch.device("cpu"), seed=0, progress=False)
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4, 5]
    assert result.stopped_early and result.best_epoch == 1
    # Keras ReduceLROnPlateau(patience=1): every epoch that fails to improve decays the LR
    assert [r["lr"] for r in result.history] == pytest.approx([1e-3, 1e-3, 2e-4, 4e-5, 8e-6])


def test_koo2019_uses_batch_32_for_in_vivo_data_unless_told_otherwise():
    assert get_protocol("koo2019", config="deepsea").batch_size == 32
    assert get_protocol("koo2019", config="synthetic").batch_size == 100
    assert get_protocol("koo2019", config="deepsea", batch_size=64).batch_size == 64
    assert get_protocol("nmi2021", config="deepsea").batch_size == 100  # REFERENCE section 5: NMI batch 100


def test_train_command_records_the_in_vivo_batch_size(tmp_path, small_data, monkeypatch):
    """--config deepsea under koo2019 trains with batch 32 and spec.json says so; --batch-size still wins."""
    import baselines.run as run_mod

    seen = []

    def fake_load(source, config="synthetic", revision=None, limit=None):
        seen.append(config)
        return small_data

    monkeypatch.setattr(run_mod, "load_data", fake_load)
    common = ["--config", "deepsea", "--data", "unused", "--epochs", "1", "--device", "cpu", "--threads", "1",
              "--no-progress"]
    assert main(["train", "cnn-25", "--out", str(tmp_path / "a"), *common]) == 0
    spec = json.loads((tmp_path / "a" / "spec.json").read_text())
    assert seen == ["deepsea"] and spec["protocol"]["name"] == "koo2019"
    assert spec["protocol"]["batch_size"] == 32 and spec["protocol"]["in_vivo_batch_size"] == 32
    assert main(["train", "cnn-25", "--out", str(tmp_path / "b"), "--batch-size", "50", *common]) == 0
    assert json.loads((tmp_path / "b" / "spec.json").read_text())["protocol"]["batch_size"] == 50


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_restore_best_false_keeps_the_last_epoch_weights(monkeypatch, small_data):
    """nmi2021 (restore_best=False) ends on the last epoch's weights, koo2019-style restore on the best one."""
    import baselines.train as train_mod
    from baselines.train import fit

    constant = np.full((small_data.valid.x.shape[0], 12), 0.3, dtype=np.float32)
    monkeypatch.setattr(train_mod, "predict", lambda *a, **k: constant)  # flat signal: epoch 1 stays best

    def run(epochs, restore_best):
        protocol = get_protocol("nmi2021", epochs=epochs, patience=2, batch_size=150, restore_best=restore_best)
        torch.manual_seed(0)
        model = build_model(get_spec("cnn-2"), "relu", 200)
        return fit(model, small_data, protocol, device=torch.device("cpu"), seed=0, progress=False), _state(model)

    one, after_epoch_1 = run(1, True)
    best, restored = run(5, True)
    last, kept = run(5, False)
    assert best.best_epoch == last.best_epoch == 1 and len(best.history) == len(last.history) == 3
    assert (best.weights_epoch, last.weights_epoch) == (1, 3)
    assert all(torch.equal(restored[k], after_epoch_1[k]) for k in restored)
    assert not all(torch.equal(kept[k], after_epoch_1[k]) for k in kept)  # trained on past the best epoch


def test_plateau_counts_improvements_like_keras(monkeypatch, small_data):
    """Keras' ReduceLROnPlateau needs a gain above 1e-4 (absolute) over the best value and decays after
    `patience` such epochs: gains of 4e-5 per epoch from 0.2 are a plateau (torch's default relative
    threshold, 2e-5 here, would call them improvements), so with patience 2 the LR drops after epoch 3."""
    import baselines.train as train_mod
    from baselines.metrics import MacroScores
    from baselines.train import fit

    epochs = iter(range(100))
    monkeypatch.setattr(train_mod, "predict", lambda *a, **k: np.full((small_data.valid.x.shape[0], 12), 0.3,
                                                                          dtype=np.float32))
    monkeypatch.setattr(train_mod, "macro_scores", lambda *a: MacroScores(0.5, 0.2 + 4e-5 * next(epochs), 12))
    protocol = get_protocol("nmi2021", epochs=4, plateau_patience=2, batch_size=300)
    torch.manual_seed(0)
    result = fit(build_model(get_spec("cnn-2"), "relu", 200), small_data, protocol, device=torch.device("cpu"),
                 seed=0, progress=False)
    assert result.best_epoch == 4 and not result.stopped_early  # early stopping: any gain is a gain (Keras min_delta 0)
    assert [r["lr"] for r in result.history] == pytest.approx([1e-3, 1e-3, 1e-3, 2e-4])


@pytest.mark.parametrize("name", ["cnn-25", "cnn-deep"])
def test_flat_adam_steps_the_same_bits_as_torch_adam(name, tmp_path):
    """fit's FlatAdam (each parameter group stepped as one flat tensor) against torch.optim.Adam,
    both L2 groups, gradients of very different scales; after release each parameter owns its storage."""
    from safetensors.torch import save_file

    from baselines.flat_adam import FlatAdam
    from baselines.train import _optimizer

    torch.manual_seed(0)
    ref = build_model(get_spec(name), "relu", 200)
    flat_model = build_model(get_spec(name), "relu", 200)
    flat_model.load_state_dict(ref.state_dict())
    protocol = PROTOCOLS["koo2019"]
    reference, flat = _optimizer(ref, protocol), FlatAdam(_optimizer(flat_model, protocol))
    assert len(flat.param_groups) == 2 and flat.param_groups[0]["weight_decay"] == pytest.approx(2e-6)
    gen = torch.Generator().manual_seed(1)
    for _ in range(12):
        for a, b in zip(ref.parameters(), flat_model.parameters()):
            grad = torch.randn(a.shape, generator=gen) * 10.0 ** -int(torch.randint(0, 8, (1,), generator=gen))
            a.grad, b.grad = grad.clone(), grad.clone()
        reference.step()
        flat.step()
        assert all(p.grad is None for p in flat_model.parameters())
    for (key, a), b in zip(ref.named_parameters(), flat_model.parameters()):
        assert torch.equal(a, b), key
    flat.release()
    pointers = {p.untyped_storage().data_ptr() for p in flat_model.parameters()}
    assert len(pointers) == len(list(flat_model.parameters()))
    save_file({k: v.contiguous() for k, v in flat_model.state_dict().items()}, str(tmp_path / "w.safetensors"))
    assert all(torch.equal(a, b) for a, b in zip(ref.parameters(), flat_model.parameters()))


def test_flat_adam_refuses_a_parameter_without_gradient():
    from baselines.flat_adam import FlatAdam
    from baselines.train import _optimizer

    model = build_model(get_spec("cnn-25"), "relu", 200)
    flat = FlatAdam(_optimizer(model, PROTOCOLS["koo2019"]))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    model.first_conv.weight.grad = None
    with pytest.raises(RuntimeError, match=r"shapes \[\(30, 4, 19\)\] got no gradient"):
        flat.step()


def test_flat_adam_refuses_a_group_that_mixes_dtypes():
    import torch

    from baselines.flat_adam import FlatAdam

    a = torch.nn.Parameter(torch.zeros(3))
    b = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="one dtype and device per parameter group"):
        FlatAdam(torch.optim.Adam([a, b]))


def test_a_folder_holding_anything_but_a_run_is_never_cleared(tmp_path):
    from baselines.run import prepare_run_dir

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "spec.json").write_text("{}")
    with pytest.raises(BaselineError, match=r"not a training run's \(notes.txt\); it is not cleared"):
        prepare_run_dir(folder)
    with pytest.raises(BaselineError, match="not cleared"):
        prepare_run_dir(folder, overwrite=True)
    assert (folder / "notes.txt").read_text() == "mine"
    interrupted = tmp_path / "seed0"  # what a killed run leaves, a half-written temp file included
    (interrupted / "evaluation").mkdir(parents=True)
    for name in ("spec.json", "train_log.jsonl", "model.safetensors", ".model.onnx.k3j1.tmp"):
        (interrupted / name).write_text("x")
    assert list(prepare_run_dir(interrupted).iterdir()) == []


def test_a_run_whose_predictions_turn_non_finite_is_recorded_as_diverged(tmp_path, small_data):
    record = train_run("cnn-25", activation="exp", seed=0, protocol=get_protocol("koo2019", epochs=3, lr=1e6),
                       out_dir=tmp_path / "div", data=small_data, device="cpu", threads=1, progress=False)
    assert record["diverged"] is True and is_complete(tmp_path / "div")  # was: ValueError "Input contains NaN"
    log = [json.loads(line) for line in (tmp_path / "div" / "train_log.jsonl").read_text().splitlines()]
    assert len(log) < 3


def test_a_truncated_weights_file_is_a_clear_error(finished_run, tmp_path):
    import shutil

    from baselines.export import load_checkpoint

    run, _ = finished_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "model.safetensors").write_bytes((copy / "model.safetensors").read_bytes()[:100])
    with pytest.raises(BaselineError, match="model.safetensors is not a readable safetensors file"):
        load_checkpoint(copy)
