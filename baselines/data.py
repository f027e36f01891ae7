"""Dataset splits as torch tensors, from the benchmark loader (`benchmark.loader.load_split`).

Training indexes whole tensors with a permutation per epoch, so the data is
loaded once, as contiguous float32 tensors, and never goes through a
DataLoader.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from baselines.errors import BaselineError


class TensorSplit(NamedTuple):
    """One split: ``x`` float32 (N, 4, L) one-hot A,C,G,T; ``y`` float32 (N, 12) labels."""

    x: torch.Tensor
    y: torch.Tensor


@dataclass(frozen=True)
class DataBundle:
    """Train / validation / test tensors plus where they came from (recorded in spec.json)."""

    train: TensorSplit
    valid: TensorSplit
    test: TensorSplit
    source: dict[str, Any]

    @property
    def length(self) -> int:
        return int(self.train.x.shape[-1])

    @classmethod
    def from_arrays(
        cls,
        train: tuple[np.ndarray, np.ndarray],
        valid: tuple[np.ndarray, np.ndarray],
        test: tuple[np.ndarray, np.ndarray],
        source: dict[str, Any] | None = None,
    ) -> DataBundle:
        """Wrap in-memory arrays (x (N, 4, L), y (N, C)) - e.g. random data for timing or tests."""
        splits = [_to_split(x, y, name) for (x, y), name in zip((train, valid, test), ("train", "valid", "test"))]
        lengths = {s.x.shape[-1] for s in splits}
        if len(lengths) != 1:
            raise BaselineError(f"splits have different sequence lengths {sorted(lengths)}")
        return cls(*splits, source=source or {"source": "in-memory arrays"})


def _to_split(x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, name: str) -> TensorSplit:
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32) if not torch.is_tensor(x) else x, dtype=torch.float32)
    yt = torch.as_tensor(np.asarray(y, dtype=np.float32) if not torch.is_tensor(y) else y, dtype=torch.float32)
    if xt.ndim != 3 or xt.shape[1] != 4:
        raise BaselineError(f"{name} x must have shape (N, 4, L), got {tuple(xt.shape)}")
    if yt.ndim != 2 or yt.shape[0] != xt.shape[0]:
        raise BaselineError(f"{name} y must have shape (N, C) with N = {xt.shape[0]}, got {tuple(yt.shape)}")
    if xt.shape[0] == 0:
        raise BaselineError(f"{name} split is empty")
    return TensorSplit(xt.contiguous(), yt.contiguous())


def load_data(
    source: str | Path | None = None,
    config: str = "synthetic",
    revision: str | None = None,
    limit: int | None = None,
) -> DataBundle:
    """Load train / validation / test through `benchmark.loader.load_split`.

    Parameters
    ----------
    source : str or Path, optional
        Local dataset repo folder or Hub id; None = the data home's default folder.
    config : {"synthetic", "deepsea"}
        Dataset config.
    limit : int, optional
        Keep only the first ``limit`` rows of each split (smoke runs).
    """
    from benchmark.loader import load_split

    arrays = {}
    infos = {}
    for split in ("train", "validation", "test"):
        part = load_split(source, config=config, split=split, revision=revision, limit=limit)
        arrays[split] = (part.x, part.y)
        infos[split] = part.info
    return DataBundle.from_arrays(
        arrays["train"], arrays["validation"], arrays["test"], source=_describe(infos, source, config, revision, limit)
    )


def _describe(infos: dict[str, Any], source: Any, config: str, revision: str | None, limit: int | None) -> dict[str, Any]:
    """The dataset facts a run records (JSON-ready): the loader's provenance plus our slice."""
    train = infos["train"]
    described: dict[str, Any] = train.as_dict() if hasattr(train, "as_dict") else {}
    described.pop("split", None)
    described.update({
        "requested_source": str(source) if source is not None else None,
        "config": config,
        "revision": described.get("revision", revision),
        "limit": limit,
        "splits_content_sha256": {k: getattr(v, "content_sha256", None) for k, v in infos.items()},
    })
    return described
