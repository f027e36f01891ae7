"""The zoo: every spec builds and runs at both lengths, pools like TensorFlow, and has the original parameter counts."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from baselines.errors import BaselineError
from baselines.model import TFMaxPool1d, build_model, count_parameters
from baselines.zoo import LENGTHS, ModelSpec, get_spec, model_names, same_pool_padding

REQUIRED = [
    "cnn-1", "cnn-2", "cnn-4", "cnn-10", "cnn-25", "cnn-50", "cnn-100", "cnn-50-2", "cnn9-4", "cnn9-25",
    "cnn3-2", "cnn3-50", "cnn19-1-2", "cnn-1-1-100", "cnn-25-f30", "cnn-25-f60", "cnn-25-f90", "cnn-25-f120",
    "cnn-deep", "cnn-deep-nmi",
    "cnn-1-nmi", "cnn-2-nmi", "cnn-4-nmi", "cnn-10-nmi", "cnn-25-nmi", "cnn-50-nmi", "cnn-100-nmi",
]


def test_every_required_model_is_registered():
    assert set(REQUIRED) <= set(model_names())


def _one_hot(n: int, length: int) -> torch.Tensor:
    idx = torch.randint(0, 4, (n, length), generator=torch.Generator().manual_seed(0))
    return torch.nn.functional.one_hot(idx, 4).permute(0, 2, 1).float()


@pytest.mark.parametrize("name", REQUIRED)
def test_forward_shapes_at_both_lengths(name):
    torch.manual_seed(0)
    spec = get_spec(name)
    for length in LENGTHS:
        for activation in ("relu", "exp"):
            model = build_model(spec, activation, length).eval()
            x = _one_hot(3, length)
            with torch.no_grad():
                logits = model(x)
                tap = model.first_layer(x)
            assert logits.shape == (3, 12)
            assert torch.isfinite(logits).all()
            filters = spec.for_length(length).convs[0].filters
            assert tap.shape == (3, filters, length)
            if activation == "exp":
                assert (tap > 0).all()
            else:
                assert (tap >= 0).all()


# Hand arithmetic per model. Conv: in_channels * width * filters + 2 * filters (BN gamma, beta; no bias).
# Hidden dense: features * units + 2 * units. Output: units * 12 + 12 (bias). Flattened length written out.
KE_CONVS = (4 * 19 * 30 + 2 * 30) + (30 * 5 * 128 + 2 * 128)
KE_HEAD_200 = (128 * 2) * 512 + 2 * 512 + 512 * 12 + 12      # 200 / p1 / p2 = 2 positions
KE_HEAD_1000 = (128 * 10) * 512 + 2 * 512 + 512 * 12 + 12    # 1000 / p1 / p2 = 10 positions

EXPECTED = {
    # name: (trainable at 200, trainable at 1000, BN channels at 200, BN channels at 1000)
    **{f"cnn-{p}": (KE_CONVS + KE_HEAD_200, KE_CONVS + KE_HEAD_1000, 30 + 128 + 512, 30 + 128 + 512)
       for p in (1, 2, 4, 10, 25, 50, 100)},
    # pool 50 stride 2 (SAME): 200 -> 100 -> pool 50 -> 2; 1000 -> 500 -> 10; conv2 64, dense 96
    "cnn-50-2": (
        (4 * 19 * 30 + 60) + (30 * 5 * 64 + 128) + (64 * 2) * 96 + 192 + 96 * 12 + 12,
        (4 * 19 * 30 + 60) + (30 * 5 * 64 + 128) + (64 * 10) * 96 + 192 + 96 * 12 + 12,
        30 + 64 + 96, 30 + 64 + 96,
    ),
    **{f"cnn9-{p}": ((4 * 9 * 30 + 60) + (30 * 5 * 128 + 256) + KE_HEAD_200,
                     (4 * 9 * 30 + 60) + (30 * 5 * 128 + 256) + KE_HEAD_1000, 670, 670) for p in (4, 25)},
    **{f"cnn3-{p}": ((4 * 3 * 30 + 60) + (30 * 5 * 128 + 256) + KE_HEAD_200,
                     (4 * 3 * 30 + 60) + (30 * 5 * 128 + 256) + KE_HEAD_1000, 670, 670) for p in (2, 50)},
    "cnn19-1-2": ((4 * 19 * 30 + 60) + (30 * 1 * 128 + 256) + KE_HEAD_200,
                  (4 * 19 * 30 + 60) + (30 * 1 * 128 + 256) + KE_HEAD_1000, 670, 670),
    **{f"cnn-25-f{f}": ((4 * 19 * f + 2 * f) + (f * 5 * 128 + 256) + KE_HEAD_200,
                        (4 * 19 * f + 2 * f) + (f * 5 * 128 + 256) + KE_HEAD_1000, f + 640, f + 640)
       for f in (30, 60, 90, 120)},
    # extra 128x5 conv, single pool 100 at the end: 200 -> 2, 1000 -> 10
    "cnn-1-1-100": (
        KE_CONVS + (128 * 5 * 128 + 256) + KE_HEAD_200,
        KE_CONVS + (128 * 5 * 128 + 256) + KE_HEAD_1000,
        30 + 128 + 128 + 512, 30 + 128 + 128 + 512,
    ),
    # bioRxiv CNN-deep: 200 -> 192 (k9 valid) -> 64 (pool 3) -> 59 (k6) -> 15 (pool 4, SAME) -> 12 (k4) -> 4 (pool 3)
    #                   1000 -> 992 -> 331 -> 326 -> 82 -> 79 -> 27
    "cnn-deep": (
        (4 * 19 * 30 + 60) + (30 * 9 * 64 + 128) + (64 * 6 * 96 + 192) + (96 * 4 * 128 + 256)
        + (128 * 4) * 512 + 1024 + 512 * 12 + 12,
        (4 * 19 * 30 + 60) + (30 * 9 * 64 + 128) + (64 * 6 * 96 + 192) + (96 * 4 * 128 + 256)
        + (128 * 27) * 512 + 1024 + 512 * 12 + 12,
        30 + 64 + 96 + 128 + 512, 30 + 64 + 96 + 128 + 512,
    ),
    # NMI CNN-deep, VALID pools: 200 -> 50 (pool 4) -> 44 (k7) -> 11 (pool 4) -> 9 (k3) -> 3 (pool 3);
    # at 1000 every width doubles: 1000 -> 250 -> 244 -> 61 -> 59 -> 19
    "cnn-deep-nmi": (
        (4 * 19 * 32 + 64) + (32 * 7 * 48 + 96) + (48 * 7 * 96 + 192) + (96 * 3 * 128 + 256)
        + (128 * 3) * 512 + 1024 + 512 * 12 + 12,
        (4 * 19 * 64 + 128) + (64 * 7 * 96 + 192) + (96 * 7 * 192 + 384) + (192 * 3 * 256 + 512)
        + (256 * 19) * 1024 + 2048 + 1024 * 12 + 12,
        32 + 48 + 96 + 128 + 512, 2 * (32 + 48 + 96 + 128 + 512),
    ),
    # NMI CNN-k (cnn_model.py): 32 / 124 filters, dense 512; 2 pooled positions at 200 (as Koo & Eddy's);
    # at 1000 nt every width doubles (64 / 248 / 1024) and 10 positions remain
    **{f"cnn-{p}-nmi": (
        (4 * 19 * 32 + 64) + (32 * 5 * 124 + 248) + (124 * 2) * 512 + 1024 + 512 * 12 + 12,
        (4 * 19 * 64 + 128) + (64 * 5 * 248 + 496) + (248 * 10) * 1024 + 2048 + 1024 * 12 + 12,
        32 + 124 + 512, 2 * (32 + 124 + 512),
    ) for p in (1, 2, 4, 10, 25, 50, 100)},
}


def test_nmi_cnn_k_follows_the_keras_code():
    """The NMI CNN-k differs from Koo & Eddy's in filters, BN eps and where dropout sits."""
    nmi, ke = get_spec("cnn-25-nmi"), get_spec("cnn-25")
    assert [c.filters for c in nmi.convs] == [32, 124] and [c.filters for c in ke.convs] == [30, 128]
    assert (nmi.bn_eps, ke.bn_eps) == (1e-3, 1e-8)
    assert [c.pool for c in nmi.convs] == [25, 4] and all(c.pool_padding == "same" for c in nmi.convs)
    assert nmi.for_length(1000).convs[0].filters == 64 and nmi.for_length(200).convs[0].filters == 32
    tail_nmi = build_model(nmi, "relu", 200).body[0]  # first block's tail: dropout, then pool
    tail_ke = build_model(ke, "relu", 200).body[0]
    assert [type(m).__name__ for m in tail_nmi] == ["Dropout", "TFMaxPool1d"]
    assert [type(m).__name__ for m in tail_ke] == ["TFMaxPool1d", "Dropout"]
    assert build_model(nmi, "exp", 200).first_bn.eps == 1e-3


def test_expected_table_covers_every_required_model():
    assert set(EXPECTED) == set(REQUIRED)


@pytest.mark.parametrize("name", REQUIRED)
def test_parameter_counts_match_hand_arithmetic(name):
    spec = get_spec(name)
    for i, length in enumerate(LENGTHS):
        trainable, bn_channels = EXPECTED[name][i], EXPECTED[name][2 + i]
        model = build_model(spec, "relu", length)
        assert count_parameters(model) == trainable, (name, length)
        counts = spec.parameter_counts(length)
        assert counts.trainable == trainable
        # Keras count_params() also counts BN moving mean and variance
        assert counts.keras_total == trainable + 2 * bn_channels
        assert counts.folded == trainable - bn_channels  # the leaderboard's Params
        buffers = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
        assert buffers == 2 * bn_channels


def test_original_table_counts():
    """Koo & Eddy's results table reports 160,048 for CNN-k and 158,848 for CNN9-k (length 200)."""
    assert get_spec("cnn-25").parameter_counts(200).trainable == 160_048
    assert get_spec("cnn9-25").parameter_counts(200).trainable == 158_848


def _tf_same_maxpool(x: np.ndarray, pool: int, stride: int) -> np.ndarray:
    """TensorFlow SAME max-pool written from its definition: out = ceil(L/s), pad_total split low/high."""
    length = x.shape[-1]
    out = math.ceil(length / stride)
    pad_total = max((out - 1) * stride + pool - length, 0)
    left = pad_total // 2
    result = np.empty(x.shape[:-1] + (out,), dtype=x.dtype)
    for i in range(out):
        lo = i * stride - left
        window = x[..., max(lo, 0): min(lo + pool, length)]
        result[..., i] = window.max(axis=-1)
    return result


@pytest.mark.parametrize("length,pool,stride", [(200, 25, 25), (200, 50, 2), (59, 4, 4), (5, 2, 2), (7, 3, 2),
                                                (200, 3, 3), (1000, 3, 3), (10, 4, 1)])
def test_same_max_pool_matches_tensorflow_rule(length, pool, stride):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, length)).astype(np.float32) - 5.0  # all negative: zero padding would be wrong
    got = TFMaxPool1d(pool, stride, length, "same")(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(got, _tf_same_maxpool(x, pool, stride))
    assert got.shape[-1] == math.ceil(length / stride)


def test_same_padding_puts_the_extra_on_the_right():
    assert same_pool_padding(5, 2, 2) == (0, 1)
    assert same_pool_padding(200, 50, 2) == (24, 24)
    assert same_pool_padding(59, 4, 4) == (0, 1)
    assert same_pool_padding(200, 25, 25) == (0, 0)


def test_valid_pool_drops_the_tail():
    x = torch.arange(11, dtype=torch.float32).view(1, 1, 11)
    assert TFMaxPool1d(4, 4, 11, "valid")(x).flatten().tolist() == [3.0, 7.0]


def test_spec_round_trips_through_json_dict():
    for name in REQUIRED:
        spec = get_spec(name)
        assert ModelSpec.from_dict(spec.to_dict()) == spec


def test_unknown_names_and_bad_specs_are_user_errors():
    with pytest.raises(BaselineError, match="unknown zoo model 'cnn-7'"):
        get_spec("cnn-7")
    assert get_spec("CNN_25").name == "cnn-25"
    with pytest.raises(BaselineError, match="unknown activation"):
        build_model(get_spec("cnn-2"), "tanh", 200)
    with pytest.raises(BaselineError, match="too short"):
        build_model(get_spec("cnn-deep"), "relu", 20)
    with pytest.raises(BaselineError, match="spec 'bad'"):
        ModelSpec.from_dict({**get_spec("cnn-2").to_dict(), "name": "bad",
                             "convs": [{"filters": 0, "width": 3}]})


def test_first_layer_is_conv_bn_activation_and_glorot_init():
    torch.manual_seed(0)
    model = build_model(get_spec("cnn-25"), "exp", 200)
    conv = model.first_conv
    assert conv.bias is None
    fan_in, fan_out = 4 * 19, 30 * 19
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    assert conv.weight.abs().max() <= bound
    assert conv.weight.abs().max() > 0.9 * bound  # uniform over the whole range, not a narrower init
    x = _one_hot(2, 200)
    model.eval()
    with torch.no_grad():
        expected = torch.exp(model.first_bn(conv(x)))
        assert torch.allclose(model.first_layer(x), expected)


@pytest.mark.parametrize("name", model_names())
@pytest.mark.parametrize("activation", ["relu", "exp"])
def test_channels_last_training_forward_is_the_same_function(name, activation):
    """fit trains on CPU through forward_channels_last: same logits and BN statistics as forward."""
    length = 200
    torch.manual_seed(0)
    model = build_model(get_spec(name), activation, length)
    twin = build_model(get_spec(name), activation, length)
    twin.load_state_dict(model.state_dict())
    x = _one_hot(16, length)
    with torch.no_grad():
        model.eval(), twin.eval()
        torch.testing.assert_close(model.forward_channels_last(x), twin(x), rtol=1e-5, atol=1e-5)
        for net in (model, twin):  # batch statistics, no dropout: dropout masks are drawn per layout
            net.train()
            for m in net.modules():
                if isinstance(m, torch.nn.Dropout):
                    m.eval()
        torch.testing.assert_close(model.forward_channels_last(x), twin(x), rtol=1e-4, atol=1e-5)
    for (key, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=f"{key} differs after a training-mode forward")


@pytest.mark.parametrize("name", ["cnn-2", "cnn-25", "cnn-50-2", "cnn-deep"])
def test_channels_last_training_gradients_match_forward(name):
    """The channels-last path's gradients (its flatten hands the max-pool a channels-last
    gradient) equal the channels-first forward's, dropout off."""
    torch.manual_seed(1)
    model = build_model(get_spec(name), "relu", 200)
    twin = build_model(get_spec(name), "relu", 200)
    twin.load_state_dict(model.state_dict())
    x = _one_hot(16, 200)
    for net, fwd in ((model, model.forward_channels_last), (twin, twin.forward)):
        net.train()
        for m in net.modules():
            if isinstance(m, torch.nn.Dropout):
                m.eval()
        fwd(x).square().sum().backward()
    # float rounding of sums taken in another order, relative to the largest gradient (some are ~0)
    scale = max(float(p.grad.abs().max()) for p in twin.parameters())
    for (key, a), b in zip(model.named_parameters(), twin.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5 * scale, msg=f"{key} gradient differs")


@pytest.mark.parametrize("name", ["cnn-2", "cnn-25", "cnn-deep", "cnn-50-2"])
def test_relu_after_max_pool_changes_no_bit(name, monkeypatch):
    """forward_channels_last applies a ReLU that a max-pool follows after the pool: logits,
    BN statistics and every gradient are bitwise those of the layer order as built (dropout on,
    same seed), while the ReLU runs on the pooled tensor."""
    from baselines.model import ZooModel

    torch.manual_seed(2)
    model = build_model(get_spec(name), "relu", 200)
    order = [type(m).__name__ for m in model._training_order()]
    assert ("TFMaxPool1d", "ReLU") in itertools.pairwise(order)  # the reorder is taken
    twin = build_model(get_spec(name), "relu", 200)
    twin.load_state_dict(model.state_dict())
    x = _one_hot(32, 200)
    outputs = []
    for net in (model, twin):
        if net is twin:
            monkeypatch.setattr(ZooModel, "_training_order", ZooModel._layers)
        net.train()
        torch.manual_seed(5)  # the same dropout masks
        logits = net.forward_channels_last(x)
        logits.square().sum().backward()
        outputs.append(logits)
    assert torch.equal(outputs[0], outputs[1])
    for (key, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        assert torch.equal(a, b), key
    for (key, a), b in zip(model.named_parameters(), twin.parameters()):
        assert torch.equal(a.grad, b.grad), f"{key} gradient differs"
