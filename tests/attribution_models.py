"""PyTorch models for the attribution tests, exported to ONNX like a submitter would.

* :class:`PlantedDetector`: first layer = the 12 ground-truth PWMs (both strands) as log-odds filters,
  ReLU above 60% of each filter's best score, **sum** over positions (every instance counts), dense
  0.5 per strand: a known motif detector whose true attribution is the motif instances.
* :class:`DilatedResidualCNN`: dilated first conv (no first-layer tap by the evaluator's rules),
  residual dilated blocks, global max pool.
* :class:`TinyTransformer`: a two-branch conv stem (kernel 5 and 9, concatenated: no single first
  conv), learned positions, two pre-norm attention blocks, mean pool.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from test_evaluator_builders import ground_truth_filters


class PlantedDetector(nn.Module):
    def __init__(self, scale: float = 1.0, threshold: float = 0.6):
        super().__init__()
        weights, bias = ground_truth_filters()
        bias = bias * (threshold / 0.6)
        self.conv = nn.Conv1d(4, 24, weights.shape[2], padding="same")
        self.dense = nn.Linear(24, 12)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(weights))
            self.conv.bias.copy_(torch.from_numpy(bias))
            w = torch.zeros(12, 24)
            for k in range(24):
                w[k // 2, k] = 0.5 * scale
            self.dense.weight.copy_(w)
            self.dense.bias.fill_(-1.0)

    def forward(self, x):
        h = torch.relu(self.conv(x)).sum(dim=2)
        return torch.sigmoid(self.dense(h))


class DilatedResidualCNN(nn.Module):
    def __init__(self, channels: int = 32, blocks: int = 3, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.stem = nn.Conv1d(4, channels, 9, padding=8, dilation=2)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.BatchNorm1d(channels), nn.ReLU(),
                          nn.Conv1d(channels, channels, 3, padding=2 ** (i + 1), dilation=2 ** (i + 1)))
            for i in range(blocks))
        self.head = nn.Linear(channels, 12)

    def forward(self, x):
        h = torch.relu(self.stem(x))
        for block in self.blocks:
            h = h + block(h)
        return torch.sigmoid(self.head(h.amax(dim=2)))


class AttentionBlock(nn.Module):
    """Pre-norm self-attention + feed-forward, written with plain ops (exports to standard ONNX)."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, h):
        b, n, d = h.shape
        q, k, v = self.qkv(self.norm1(h)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5, dim=-1)
        h = h + self.out((att @ v).transpose(1, 2).reshape(b, n, d))
        return h + self.ff(self.norm2(h))


class TinyTransformer(nn.Module):
    def __init__(self, d: int = 32, length: int = 200, heads: int = 4, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.stem_a = nn.Conv1d(4, d // 2, 5, padding=2)
        self.stem_b = nn.Conv1d(4, d // 2, 9, padding=4)
        self.pos = nn.Parameter(torch.randn(1, length, d) * 0.02)
        self.blocks = nn.ModuleList(AttentionBlock(d, heads) for _ in range(2))
        self.head = nn.Linear(d, 12)

    def forward(self, x):
        h = torch.cat([self.stem_a(x), self.stem_b(x)], dim=1).transpose(1, 2) + self.pos
        h = torch.nn.functional.gelu(h)
        for block in self.blocks:
            h = block(h)
        return torch.sigmoid(self.head(h.mean(dim=1)))


def export(model: nn.Module, path: Path, length: int = 200) -> Path:
    """Legacy TorchScript exporter (as ``baselines.export``), opset 17, dynamic batch."""
    model.eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(2, 4, length), str(path), input_names=["x"],
                          output_names=["probabilities"], dynamic_axes={"x": {0: "batch"}, "probabilities": {0: "batch"}},
                          opset_version=17, dynamo=False)
    return path


def train_quickly(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int = 3, lr: float = 3e-3,
                  batch: int = 64, seed: int = 0) -> nn.Module:
    """A few epochs of Adam on binary cross-entropy: enough for the maps to mean something."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt))
        for start in range(0, len(xt), batch):
            i = order[start:start + batch]
            loss = nn.functional.binary_cross_entropy(model(xt[i]), yt[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()
