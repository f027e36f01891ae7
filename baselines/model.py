"""One builder for every zoo spec: `build_model(spec, activation, length) -> ZooModel`.

The network is split where the benchmark needs to look inside it: ``stem`` is
the first conv layer up to its activation (the "first layer" whose filters the
evaluator turns into PPMs), ``body`` is everything after it up to the logits.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from baselines.zoo import ConvBlock, ModelSpec, check_activation, conv_output_length, pool_output_length, same_pool_padding


class Exp(nn.Module):
    """exp(x): the exponential first-layer activation of Koo & Ploenzke 2021."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


class TFMaxPool1d(nn.Module):
    """Max-pool with TensorFlow's padding rule for a fixed input length.

    SAME gives ``ceil(L / stride)`` outputs; TF pads ``max((out-1)*stride + pool - L, 0)``
    positions split with the extra one on the right. Padding with -inf means
    padded positions never win the max, exactly as in TF. VALID drops the tail.
    """

    def __init__(self, pool: int, stride: int, length: int, padding: str) -> None:
        super().__init__()
        self.pool, self.stride = pool, stride
        self.pad = same_pool_padding(length, pool, stride) if padding == "same" else (0, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad != (0, 0):
            x = F.pad(x, self.pad, value=float("-inf"))
        return F.max_pool1d(x, self.pool, self.stride)

    def extra_repr(self) -> str:
        return f"pool={self.pool}, stride={self.stride}, pad={self.pad}"


def _conv_block(block: ConvBlock, in_channels: int, length: int, activation: nn.Module, spec: ModelSpec) -> tuple[nn.Sequential, nn.Sequential, int]:
    """(conv -> BN -> activation) and (pool/dropout tail) for one block, and its output length."""
    conv = nn.Conv1d(in_channels, block.filters, block.width, padding=block.padding, bias=False)
    head = nn.Sequential(conv, nn.BatchNorm1d(block.filters, eps=spec.bn_eps, momentum=spec.bn_momentum), activation)
    after_conv = conv_output_length(length, block.width, block.padding)
    pool = None
    if block.pool > 1 or block.stride > 1:
        pool = TFMaxPool1d(block.pool, block.stride, after_conv, block.pool_padding)
    drop = nn.Dropout(block.dropout) if block.dropout > 0 else None
    order = (drop, pool) if spec.dropout_before_pool else (pool, drop)
    tail = [m for m in order if m is not None]
    return head, nn.Sequential(*tail), after_conv


class ZooModel(nn.Module):
    """A built zoo network. ``forward`` returns logits, shape (batch, n_classes).

    Parameters
    ----------
    spec : ModelSpec
        The architecture (already resolved for ``length``).
    activation : {"relu", "exp"}
        First-layer activation; deeper layers are ReLU.
    length : int
        Input length; fixed because the flatten feeds a dense layer.
    """

    def __init__(self, spec: ModelSpec, activation: str, length: int) -> None:
        super().__init__()
        check_activation(activation)
        spec.lengths(length)  # raises a clear error when the input is too short
        self.spec, self.activation, self.length = spec, activation, length
        resolved = spec.for_length(length)
        first_act: nn.Module = Exp() if activation == "exp" else nn.ReLU()
        stem, first_tail, current = _conv_block(resolved.convs[0], 4, length, first_act, resolved)
        self.stem = stem
        layers: list[nn.Module] = [first_tail]
        current = _pooled(resolved.convs[0], current)
        channels = resolved.convs[0].filters
        for block in resolved.convs[1:]:
            head, tail, current = _conv_block(block, channels, current, nn.ReLU(), resolved)
            layers += [head, tail]
            current = _pooled(block, current)
            channels = block.filters
        layers.append(nn.Flatten())
        features = channels * current
        for dense in resolved.dense:
            layers += [
                nn.Linear(features, dense.units, bias=False),
                nn.BatchNorm1d(dense.units, eps=resolved.bn_eps, momentum=resolved.bn_momentum),
                nn.ReLU(),
            ]
            if dense.dropout > 0:
                layers.append(nn.Dropout(dense.dropout))
            features = dense.units
        layers.append(nn.Linear(features, resolved.n_classes))
        self.body = nn.Sequential(*[m for m in layers if not (isinstance(m, nn.Sequential) and len(m) == 0)])
        self.reset_parameters()

    @property
    def first_conv(self) -> nn.Conv1d:
        return self.stem[0]

    @property
    def first_bn(self) -> nn.BatchNorm1d:
        return self.stem[1]

    def reset_parameters(self) -> None:
        """Glorot-uniform kernels (as both original codes), zero output bias, BN gamma 1 / beta 0."""
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm1d):
                module.reset_parameters()

    def first_layer(self, x: torch.Tensor) -> torch.Tensor:
        """First-layer activations after BN and activation, before pooling: (batch, filters, L)."""
        return self.stem(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, 4, L) one-hot A,C,G,T -> logits (batch, n_classes)."""
        return self.body(self.stem(x))

    def forward_channels_last(self, x: torch.Tensor) -> torch.Tensor:
        """`forward` computed with activations laid out (batch, L, channels): the CPU training path.

        Same function, same parameters, same logits up to float rounding (tested
        to 1e-5): convolutions run as channels-last 2-D convolutions (oneDNN's
        fast layout), batch norm over a (batch x L, channels) matrix, max-pool
        on the channels-last view; the flatten restores `forward`'s (channels, L)
        feature order so the dense weights mean the same. On a 2-core CPU it
        trains cnn-2 / cnn-25 about 1.3-1.6x faster than the channels-first
        `forward` (`perf/train_speed.py --layouts`). Export and inference use
        `forward`.

        x : Tensor, shape (batch, 4, L) -> logits, shape (batch, n_classes)
        """
        h = x.transpose(1, 2).contiguous()
        for layer in self._training_order():
            h = _channels_last_layer(layer, h)
        return h

    def _training_order(self) -> list[nn.Module]:
        """`_layers` with every ReLU that a max-pool follows moved after that pool.

        max(relu(a), relu(b)) == relu(max(a, b)) for floats (ReLU is monotone and
        keeps every positive value), and the gradients are the same tensors: where
        a window's maximum is positive both orders route it to the same first
        maximum; where it is not, both give the whole window zero gradient. So the
        trained numbers do not change, while the ReLU and its backward run on the
        pooled tensor (1/pool of the conv output). Exp is left in place: two
        inputs can round to one exp value, and the first of those tied maxima need
        not be the larger input.
        """
        order = self._layers()
        for i in range(len(order) - 1):
            if type(order[i]) is nn.ReLU and isinstance(order[i + 1], TFMaxPool1d):
                order[i], order[i + 1] = order[i + 1], order[i]
        return order

    def _layers(self) -> list[nn.Module]:
        flat: list[nn.Module] = []
        for module in (*self.stem, *self.body):
            flat.extend(module if isinstance(module, nn.Sequential) else [module])
        return flat

    def l2_weights(self, include_output: bool = True) -> list[torch.Tensor]:
        """Conv and dense kernels the L2 penalty applies to (never BN, never biases)."""
        kernels = [m.weight for m in self.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
        return kernels if include_output else kernels[:-1]


def _as_2d(h: torch.Tensor) -> torch.Tensor:
    """(batch, L, C) contiguous -> the same memory as a channels-last (batch, C, 1, L) view."""
    return h.transpose(1, 2).unsqueeze(2)


def _from_2d(h: torch.Tensor) -> torch.Tensor:
    """Channels-last (batch, C, 1, L) -> (batch, L, C) view."""
    return h.squeeze(2).transpose(1, 2)


def _channels_last_layer(layer: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """One layer of `ZooModel.forward_channels_last`; ``h`` is (batch, L, C) until the flatten."""
    if isinstance(layer, nn.Conv1d):
        padding = layer.padding if isinstance(layer.padding, str) else (0, layer.padding[0])
        return _from_2d(F.conv2d(_as_2d(h), layer.weight.unsqueeze(2), layer.bias, padding=padding))
    if isinstance(layer, nn.BatchNorm1d) and h.dim() == 3:
        n, length, channels = h.shape
        flat = F.batch_norm(h.reshape(n * length, channels), layer.running_mean, layer.running_var, layer.weight,
                            layer.bias, layer.training, layer.momentum, layer.eps)
        if layer.training:
            layer.num_batches_tracked.add_(1)
        return flat.view(n, length, channels)
    if isinstance(layer, TFMaxPool1d):
        h2 = _as_2d(h)
        if layer.pad != (0, 0):
            h2 = F.pad(h2, layer.pad, value=float("-inf"))
        return _from_2d(F.max_pool2d(h2, (1, layer.pool), (1, layer.stride)))
    if isinstance(layer, nn.Flatten):
        if h.requires_grad:
            # the flatten's gradient arrives (C, L)-ordered; laid out (L, C) again, the max-pool
            # backward before it stays channels-last instead of converting its input and indices
            # to channels-first (two copies of the largest activation per step); same values
            h.register_hook(torch.Tensor.contiguous)
        return h.transpose(1, 2).flatten(1)  # (C, L) order, as forward's flatten
    if isinstance(layer, (nn.ReLU, Exp, nn.Dropout, nn.Linear, nn.BatchNorm1d)):
        return layer(h)  # elementwise, or 2-D after the flatten
    raise TypeError(f"forward_channels_last does not know layer {type(layer).__name__}")


def _pooled(block: ConvBlock, length: int) -> int:
    return pool_output_length(length, block.pool, block.stride, block.pool_padding)


def build_model(spec: ModelSpec, activation: str = "relu", length: int = 200) -> ZooModel:
    """Build any zoo spec for an input length; weights are Glorot-uniform from torch's global RNG."""
    return ZooModel(spec, activation, length)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of a built module (what PyTorch holds, BN buffers excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
