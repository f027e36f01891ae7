"""Training protocols as data: the two papers' presets and per-run overrides.

`koo2019` is Koo & Eddy 2019 as their code actually ran (REFERENCE.md
section 5: the configured 3e-4 was ignored by a library typo, so lr 1e-3;
batch 100, or 32 for in-vivo data; best checkpoint restored); `nmi2021` is
Koo & Ploenzke 2021 as their Keras code ran (Keras defaults for Adam's betas
and eps, early stopping and LR decay on validation auPR, L2 only on hidden
kernels, and ``restore_best_weights=False``: the last epoch's weights are kept).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from baselines.errors import BaselineError

from benchmark.datasets import DATASET_CONFIGS

#: Training devices `--device` accepts (``auto`` = CUDA, then MPS, then CPU); torch-free so CLIs parse fast.
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")

Monitor = Literal["val_loss", "val_aupr"]

#: Dataset configs that hold in-vivo data (where `Protocol.in_vivo_batch_size` applies).
IN_VIVO_CONFIGS: tuple[str, ...] = tuple(c.name for c in DATASET_CONFIGS.values() if c.in_vivo)


@dataclass(frozen=True)
class Protocol:
    """Every number that changes how a baseline is trained.

    Parameters
    ----------
    lr, beta1, beta2, adam_eps : float
        Adam settings.
    l2 : float
        Penalty ``l2 * sum(w**2)`` over conv/dense kernels (never BN, never biases).
    l2_output : bool
        Whether the output layer's kernel is penalised (deepomics: yes; the NMI
        Keras code: no).
    batch_size, epochs : int
        Minibatch size and maximum epochs.
    in_vivo_batch_size : int or None
        The preset's minibatch size for in-vivo data (configs in `IN_VIVO_CONFIGS`);
        `get_protocol` puts it into ``batch_size`` when given such a config and no
        explicit ``batch_size``. Koo & Eddy trained in vivo with 32.
    monitor : {"val_loss", "val_aupr"}
        Early-stopping criterion (and which epoch counts as best).
    patience : int
        Epochs without improvement before stopping.
    restore_best : bool
        Whether training ends with the best epoch's weights (Koo & Eddy's
        checkpoint reload) or the last epoch's (the NMI code's Keras
        ``EarlyStopping(restore_best_weights=False)``).
    plateau_factor, plateau_patience, plateau_min_lr : float, int, float
        ReduceLROnPlateau on ``monitor`` when ``plateau_factor`` is set, with
        Keras' rules: the LR is multiplied by the factor once ``plateau_patience``
        epochs in a row failed to beat the best value by more than 1e-4.
    eval_batch_size : int
        Batch size for validation/test inference (no effect on results).
    """

    name: str
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    adam_eps: float = 1e-8
    l2: float = 1e-6
    l2_output: bool = True
    batch_size: int = 100
    epochs: int = 100
    in_vivo_batch_size: int | None = None
    monitor: Monitor = "val_loss"
    patience: int = 20
    restore_best: bool = True
    plateau_factor: float | None = None
    plateau_patience: int = 5
    plateau_min_lr: float = 1e-7
    eval_batch_size: int = 1000

    def __post_init__(self) -> None:
        if self.monitor not in ("val_loss", "val_aupr"):
            raise BaselineError(f"protocol monitor must be 'val_loss' or 'val_aupr', got {self.monitor!r}")
        # written as "not (ok)" so that NaN, which fails every comparison, is refused too
        for key in ("lr", "batch_size", "epochs", "eval_batch_size", "adam_eps"):
            if not 0 < getattr(self, key) < math.inf:
                raise BaselineError(f"protocol {key} must be > 0 and finite, got {getattr(self, key)}")
        if not (self.patience >= 0 and 0 <= self.l2 < math.inf):
            raise BaselineError(f"protocol patience and l2 must be >= 0, got {self.patience} and {self.l2}")
        for key in ("beta1", "beta2"):
            if not 0 <= getattr(self, key) < 1:
                raise BaselineError(f"protocol {key} must be in [0, 1), got {getattr(self, key)}")
        if self.plateau_factor is not None and not 0 < self.plateau_factor < 1:
            raise BaselineError(f"protocol plateau_factor must be in (0, 1), got {self.plateau_factor}")
        if self.plateau_patience < 1:
            raise BaselineError(f"protocol plateau_patience must be >= 1, got {self.plateau_patience}")
        if self.in_vivo_batch_size is not None and not self.in_vivo_batch_size > 0:
            raise BaselineError(f"protocol in_vivo_batch_size must be > 0, got {self.in_vivo_batch_size}")

    def with_overrides(self, **overrides: Any) -> Protocol:
        """A copy with the given fields replaced; ``None`` values are ignored (unset CLI flags)."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise BaselineError(f"unknown protocol field(s) {sorted(unknown)}; known: {sorted(known)}")
        changes = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **changes) if changes else self

    def for_config(self, config: str | None) -> Protocol:
        """The protocol for a dataset config: in-vivo configs take ``in_vivo_batch_size`` when set."""
        if config in IN_VIVO_CONFIGS and self.in_vivo_batch_size is not None:
            return replace(self, batch_size=self.in_vivo_batch_size)
        return self

    def training_fields(self) -> dict[str, Any]:
        """The fields that change the trained weights (drops the name, the resolved-away
        ``in_vivo_batch_size`` and the inference-only ``eval_batch_size``)."""
        data = self.to_dict()
        for key in ("name", "in_vivo_batch_size", "eval_batch_size"):
            data.pop(key)
        return data

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Protocol:
        """Inverse of `to_dict`; fields missing from older records take their defaults."""
        try:
            return cls(**data)
        except TypeError as exc:
            raise BaselineError(f"not a valid protocol record ({exc}): {data!r}") from exc


PROTOCOLS: dict[str, Protocol] = {
    "koo2019": Protocol(
        name="koo2019", lr=1e-3, beta1=0.95, beta2=0.999, adam_eps=1e-8, l2=1e-6, l2_output=True,
        batch_size=100, epochs=100, in_vivo_batch_size=32, monitor="val_loss", patience=20, restore_best=True,
    ),
    "nmi2021": Protocol(
        name="nmi2021", lr=1e-3, beta1=0.9, beta2=0.999, adam_eps=1e-7, l2=1e-6, l2_output=False,
        batch_size=100, epochs=100, monitor="val_aupr", patience=20, restore_best=False,
        plateau_factor=0.2, plateau_patience=5, plateau_min_lr=1e-7,
    ),
}


def get_protocol(name: str, config: str | None = None, **overrides: Any) -> Protocol:
    """A preset by name, resolved for a dataset config, with optional overrides.

    Parameters
    ----------
    name : {"koo2019", "nmi2021"}
        The preset.
    config : str, optional
        The dataset config the run trains on (``"synthetic"``, ``"deepsea"``):
        in-vivo configs use the preset's ``in_vivo_batch_size`` (koo2019: 32).
    **overrides
        Field values that replace the preset's (``None`` means "keep the preset's
        value"); an explicit ``batch_size`` wins over the in-vivo default.
    """
    try:
        base = PROTOCOLS[name]
    except KeyError:
        raise BaselineError(f"unknown protocol {name!r}; expected one of {', '.join(PROTOCOLS)}") from None
    return base.for_config(config).with_overrides(**overrides)
