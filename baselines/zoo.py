"""The baseline zoo as declarative data: every architecture is a `ModelSpec` registered by name.

One spec describes the whole network (conv blocks, dense layers, batch-norm
settings); `baselines.model.build_model` turns any spec into a module, so there
are no per-model classes. Specs follow the public code of Koo & Eddy 2019
(`p-koo/learning_sequence_motifs`, TensorFlow 1 "deepomics") and Koo &
Ploenzke 2021 (`p-koo/exponential_activations`, Keras), see REFERENCE.md
section 4 and docs/baselines.md for where we deliberately differ.

Shared conventions (all specs): conv layers have no bias and are followed by
batch norm; hidden dense layers likewise; the output dense layer has a bias;
Glorot-uniform initialisation; max-pool uses TensorFlow's SAME padding
(``ceil(L / stride)`` outputs, padded with -inf, extra pad on the right) unless
a block says ``pool_padding="valid"``. The first-layer activation (relu or exp)
is chosen per run, not per spec; deeper layers are always ReLU.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from baselines.errors import BaselineError

from benchmark.datasets import DATASET_CONFIGS, N_CLASSES

Padding = Literal["same", "valid"]

#: First-layer activations a run may choose (deeper layers stay ReLU).
ACTIVATIONS: tuple[str, ...] = ("relu", "exp")
#: Input lengths the benchmark ships (synthetic 200 nt, truncated DeepSEA 1000 nt).
LENGTHS: tuple[int, ...] = tuple(sorted({c.length for c in DATASET_CONFIGS.values()}))
N_CHANNELS = 4


@dataclass(frozen=True)
class ConvBlock:
    """conv (no bias) -> batch norm -> activation -> max-pool -> dropout.

    ``pool=1`` means no pooling. ``pool_stride`` defaults to ``pool``.
    """

    filters: int
    width: int
    padding: Padding = "same"
    pool: int = 1
    pool_stride: int | None = None
    pool_padding: Padding = "same"
    dropout: float = 0.0

    @property
    def stride(self) -> int:
        return self.pool_stride or self.pool


@dataclass(frozen=True)
class DenseBlock:
    """dense (no bias) -> batch norm -> ReLU -> dropout."""

    units: int
    dropout: float = 0.0


@dataclass(frozen=True)
class ModelSpec:
    """A whole network, as data.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"cnn-25"``.
    convs, dense : tuple
        Conv blocks then hidden dense blocks; a final dense layer with bias maps
        to ``n_classes`` logits.
    bn_eps, bn_momentum : float
        Batch-norm epsilon and PyTorch-style momentum (``1 - decay``): deepomics
        used eps 1e-8 and a 0.99 moving average; Keras uses eps 1e-3, 0.99.
    dropout_before_pool : bool
        Keras code (tfomics ``conv_layer``) drops out before pooling; deepomics
        after. Does not change shapes or parameter counts.
    widen_at_1000 : bool
        The NMI code doubles every filter and unit count for 1000-nt input.
    """

    name: str
    description: str
    source: str
    convs: tuple[ConvBlock, ...]
    dense: tuple[DenseBlock, ...]
    n_classes: int = N_CLASSES
    bn_eps: float = 1e-8
    bn_momentum: float = 0.01
    dropout_before_pool: bool = False
    widen_at_1000: bool = False
    notes: str = ""
    aliases: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.convs:
            raise BaselineError(f"spec {self.name!r}: needs at least one conv block")
        for i, block in enumerate(self.convs):
            where = f"spec {self.name!r} conv block {i}"
            if block.filters < 1 or block.width < 1 or block.pool < 1 or block.stride < 1:
                raise BaselineError(f"{where}: filters, width, pool and stride must be >= 1, got {block}")
            if block.padding not in ("same", "valid") or block.pool_padding not in ("same", "valid"):
                raise BaselineError(f"{where}: padding must be 'same' or 'valid', got {block}")
            if not 0.0 <= block.dropout < 1.0:
                raise BaselineError(f"{where}: dropout must be in [0, 1), got {block.dropout}")
        for i, dense in enumerate(self.dense):
            if dense.units < 1 or not 0.0 <= dense.dropout < 1.0:
                raise BaselineError(f"spec {self.name!r} dense block {i}: bad units/dropout {dense}")

    # -- resolved shapes -------------------------------------------------
    def for_length(self, length: int) -> ModelSpec:
        """The concrete spec for an input length (applies ``widen_at_1000``)."""
        if not (self.widen_at_1000 and length == 1000):
            return self
        return replace(
            self,
            convs=tuple(replace(c, filters=2 * c.filters) for c in self.convs),
            dense=tuple(replace(d, units=2 * d.units) for d in self.dense),
            widen_at_1000=False,
        )

    def lengths(self, length: int) -> list[tuple[int, int]]:
        """Per conv block, (length after conv, length after pool) for an input of ``length``."""
        out = []
        current = length
        for i, block in enumerate(self.for_length(length).convs):
            after_conv = conv_output_length(current, block.width, block.padding)
            after_pool = pool_output_length(after_conv, block.pool, block.stride, block.pool_padding)
            if after_conv < 1 or after_pool < 1:
                raise BaselineError(
                    f"spec {self.name!r}: input length {length} is too short for conv block {i} "
                    f"(length {current} -> conv {after_conv} -> pool {after_pool})"
                )
            out.append((after_conv, after_pool))
            current = after_pool
        return out

    def flat_features(self, length: int) -> int:
        """Features entering the first dense layer: last filters x last pooled length."""
        return self.for_length(length).convs[-1].filters * self.lengths(length)[-1][1]

    def parameter_counts(self, length: int) -> ParameterCounts:
        """Trainable parameters and the Keras ``count_params`` total (adds BN moving mean/var)."""
        spec = self.for_length(length)
        trainable = 0
        bn_channels = 0
        channels = N_CHANNELS
        for block in spec.convs:
            trainable += channels * block.width * block.filters + 2 * block.filters
            bn_channels += block.filters
            channels = block.filters
        features = self.flat_features(length)
        for dense in spec.dense:
            trainable += features * dense.units + 2 * dense.units
            bn_channels += dense.units
            features = dense.units
        trainable += features * spec.n_classes + spec.n_classes
        return ParameterCounts(trainable=trainable, keras_total=trainable + 2 * bn_channels,
                               folded=trainable - bn_channels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; `ModelSpec.from_dict` inverts it (stored in every run's spec.json)."""
        data = asdict(self)
        data["aliases"] = list(self.aliases)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        try:
            fields = dict(data)
            fields["convs"] = tuple(ConvBlock(**c) for c in fields["convs"])
            fields["dense"] = tuple(DenseBlock(**d) for d in fields["dense"])
            fields["aliases"] = tuple(fields.get("aliases", ()))
            return cls(**fields)
        except (KeyError, TypeError) as exc:
            raise BaselineError(f"not a valid model spec ({exc}): {data!r}") from exc


@dataclass(frozen=True)
class ParameterCounts:
    """``trainable`` = weights + BN gamma/beta + output bias (what the original
    code reported and what PyTorch's ``parameters()`` holds); ``keras_total``
    also counts BN moving mean and variance, as Keras ``model.count_params()``."""

    trainable: int
    keras_total: int
    #: batch norms folded into the layer before them (one parameter fewer per BN channel): the leaderboard's
    #: ``Params``, which counts every submitted ONNX this way (``submissions.model_facts.parameter_count``)
    folded: int = 0


def conv_output_length(length: int, width: int, padding: str) -> int:
    """Stride-1 convolution: SAME keeps the length, VALID loses ``width - 1``."""
    return length if padding == "same" else length - width + 1


def pool_output_length(length: int, pool: int, stride: int, padding: str) -> int:
    """TensorFlow max-pool output length: SAME -> ceil(L / stride); VALID -> floor((L - pool) / stride) + 1."""
    if pool == 1 and stride == 1:
        return length
    if padding == "same":
        return math.ceil(length / stride)
    return (length - pool) // stride + 1


def same_pool_padding(length: int, pool: int, stride: int) -> tuple[int, int]:
    """TensorFlow SAME padding for a max-pool: (left, right), the odd element on the right."""
    out = math.ceil(length / stride)
    total = max((out - 1) * stride + pool - length, 0)
    return total // 2, total - total // 2


# ---------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------
_KE_SOURCE = "Koo & Eddy 2019, PLoS Comput Biol; github.com/p-koo/learning_sequence_motifs code/models/"
_NMI_SOURCE = "Koo & Ploenzke 2021, Nat Mach Intell; github.com/p-koo/exponential_activations code/model_zoo/"
_BIORXIV_SOURCE = (
    "Koo & Ploenzke, bioRxiv 650804 (2019); github.com/p-koo/cnn_exponential_activations code/models/cnn_deep.py"
)


#: (first-layer pool, second-layer pool) of the CNN-k family: the product is always 100.
_POOL_PAIRS: tuple[tuple[int, int], ...] = ((1, 100), (2, 50), (4, 25), (10, 10), (25, 4), (50, 2), (100, 1))


def _koo_eddy(
    name: str,
    pool1: int,
    pool2: int,
    *,
    width1: int = 19,
    filters1: int = 30,
    pool1_stride: int | None = None,
    filters2: int = 128,
    width2: int = 5,
    units: int = 512,
    description: str = "",
    notes: str = "",
) -> ModelSpec:
    """The Koo & Eddy skeleton: conv1 -> pool p1 -> conv2 -> pool p2 -> dense -> 12."""
    return ModelSpec(
        name=name,
        description=description or f"conv {filters1}x{width1}, pool {pool1}; conv {filters2}x{width2}, pool {pool2}; dense {units}",
        source=_KE_SOURCE,
        convs=(
            ConvBlock(filters1, width1, "same", pool=pool1, pool_stride=pool1_stride, dropout=0.1),
            ConvBlock(filters2, width2, "same", pool=pool2, dropout=0.1),
        ),
        dense=(DenseBlock(units, dropout=0.5),),
        notes=notes,
    )


def _nmi_cnn(name: str, pool1: int, pool2: int) -> ModelSpec:
    """The NMI code's CNN-k (``code/model_zoo/cnn_model.py``): Koo & Eddy's skeleton with
    32 / 124 filters, Keras batch norm (eps 1e-3), dropout before pooling, SAME pools,
    and every width doubled for 1000-nt input."""
    return ModelSpec(
        name=name,
        description=f"NMI CNN-{pool1}: conv 32x19, pool {pool1}; conv 124x5, pool {pool2}; dense 512 "
        "(widths x2 at 1000 nt)",
        source=_NMI_SOURCE + "cnn_model.py",
        convs=(
            ConvBlock(32, 19, "same", pool=pool1, dropout=0.1),
            ConvBlock(124, 5, "same", pool=pool2, dropout=0.1),
        ),
        dense=(DenseBlock(512, dropout=0.5),),
        bn_eps=1e-3,
        dropout_before_pool=True,
        widen_at_1000=True,
        notes="The NMI paper's CNN-k as its Keras code built it; Koo & Eddy's cnn-k has 30 / 128 filters, "
        "BN eps 1e-8 and drops out after pooling.",
    )


def _build_registry() -> dict[str, ModelSpec]:
    specs: list[ModelSpec] = []
    for p1, p2 in _POOL_PAIRS:
        specs.append(_koo_eddy(f"cnn-{p1}", p1, p2))
    specs += [
        _koo_eddy(
            "cnn-50-2", 50, 50, pool1_stride=2, filters2=64, units=96,
            description="conv 30x19, pool 50 stride 2; conv 64x5, pool 50; dense 96",
        ),
        _koo_eddy("cnn9-4", 4, 25, width1=9),
        _koo_eddy("cnn9-25", 25, 4, width1=9),
        _koo_eddy("cnn3-2", 2, 50, width1=3),
        _koo_eddy("cnn3-50", 50, 2, width1=3),
        _koo_eddy(
            "cnn19-1-2", 2, 50, width2=1,
            description="CNN-2 with conv2 width 1: conv 30x19, pool 2; conv 128x1, pool 50; dense 512",
        ),
    ]
    for filters in (30, 60, 90, 120):
        specs.append(
            _koo_eddy(
                f"cnn-25-f{filters}", 25, 4, filters1=filters,
                notes="The original cnn_25_120.py still declares 30 filters (a copy slip); we build the intended count."
                if filters == 120 else "",
            )
        )
    specs.append(
        ModelSpec(
            name="cnn-1-1-100",
            description="conv 30x19 (no pool); conv 128x5 (no pool); conv 128x5, pool 100; dense 512",
            source=_KE_SOURCE + "cnn_1_3.py",
            convs=(
                ConvBlock(30, 19, "same", dropout=0.1),
                ConvBlock(128, 5, "same", dropout=0.1),
                ConvBlock(128, 5, "same", pool=100, dropout=0.1),
            ),
            dense=(DenseBlock(512, dropout=0.5),),
            notes="The original cnn_1_3.py reassigns layer2, silently dropping the 30x19 layer; "
            "we build the architecture the paper describes.",
        )
    )
    specs.append(
        ModelSpec(
            name="cnn-deep",
            description="conv 30x19 same; conv 64x9 valid, pool 3; conv 96x6 valid, pool 4; "
            "conv 128x4 valid, pool 3; dense 512 (bioRxiv version)",
            source=_BIORXIV_SOURCE,
            convs=(
                ConvBlock(30, 19, "same", dropout=0.1),
                ConvBlock(64, 9, "valid", pool=3, dropout=0.2),
                ConvBlock(96, 6, "valid", pool=4, dropout=0.3),
                ConvBlock(128, 4, "valid", pool=3, dropout=0.4),
            ),
            dense=(DenseBlock(512, dropout=0.5),),
            notes="REFERENCE.md says conv2 has 48 filters; the bioRxiv-era public code has 64, which we follow.",
        )
    )
    specs.append(
        ModelSpec(
            name="cnn-deep-nmi",
            description="conv 32x19 same; conv 48x7 same, pool 4; conv 96x7 valid, pool 4; "
            "conv 128x3 valid, pool 3; dense 512 (NMI version; widths x2 at 1000 nt)",
            source=_NMI_SOURCE + "cnn_deep.py",
            convs=(
                ConvBlock(32, 19, "same", dropout=0.1),
                ConvBlock(48, 7, "same", pool=4, pool_padding="valid", dropout=0.2),
                ConvBlock(96, 7, "valid", pool=4, pool_padding="valid", dropout=0.3),
                ConvBlock(128, 3, "valid", pool=3, pool_padding="valid", dropout=0.4),
            ),
            dense=(DenseBlock(512, dropout=0.5),),
            bn_eps=1e-3,
            dropout_before_pool=True,
            widen_at_1000=True,
            notes="Keras MaxPool1D defaults to VALID padding, which this spec keeps.",
        )
    )
    specs += [_nmi_cnn(f"cnn-{p1}-nmi", p1, p2) for p1, p2 in _POOL_PAIRS]
    registry: dict[str, ModelSpec] = {}
    for spec in specs:
        for key in (spec.name, *spec.aliases):
            if key in registry:
                raise BaselineError(f"duplicate zoo name {key!r}")
            registry[key] = spec
    return registry


#: Every registered spec by name (read-only by convention; use `register` to add).
REGISTRY: dict[str, ModelSpec] = _build_registry()

#: Koo & Eddy's first-layer pool-size family, in increasing pool size.
POOL_FAMILY: tuple[str, ...] = tuple(f"cnn-{p1}" for p1, _ in _POOL_PAIRS)
#: The same family as the NMI (Koo & Ploenzke 2021) Keras code built it.
POOL_FAMILY_NMI: tuple[str, ...] = tuple(f"cnn-{p1}-nmi" for p1, _ in _POOL_PAIRS)


def register(spec: ModelSpec, *, overwrite: bool = False) -> ModelSpec:
    """Add a spec to the registry (e.g. a user's variant), refusing silent clobbering."""
    if spec.name in REGISTRY and not overwrite:
        raise BaselineError(f"zoo name {spec.name!r} is taken; pass overwrite=True to replace it")
    REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    """The spec registered as ``name`` (case-insensitive; ``cnn_25`` works as ``cnn-25``)."""
    key = name.strip().lower().replace("_", "-")
    if key in REGISTRY:
        return REGISTRY[key]
    raise BaselineError(f"unknown zoo model {name!r}; known: {', '.join(model_names())}")


def model_names() -> list[str]:
    """Registered names in registry order."""
    return list(dict.fromkeys(spec.name for spec in REGISTRY.values()))


def check_activation(activation: str) -> str:
    """Validate a first-layer activation name."""
    if activation not in ACTIVATIONS:
        raise BaselineError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
    return activation


def check_seed(seed: object) -> int:
    """``seed`` as an int if it is a whole number >= 0 (what torch and NumPy both accept), else a BaselineError."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise BaselineError(f"seed must be a whole number >= 0, got {seed!r}")
    return int(seed)
