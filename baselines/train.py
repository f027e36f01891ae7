"""Training one zoo model: the epoch loop (`fit`) and batched inference (`predict`).

Data stays in whole tensors; each epoch draws one permutation and slices
batches out of it, so there is no DataLoader and no per-sample Python work.
On CUDA the tensors move to the GPU once when they fit (else batches are
gathered into pinned buffers and copied asynchronously) and steps run under
autocast. On CPU, steps run through `ZooModel.forward_channels_last` (the same
function in oneDNN's fast channels-last layout) and runs are deterministic for
a seed.

The L2 penalty ``l2 * sum(w**2)`` is applied as Adam's coupled ``weight_decay
= 2 * l2`` on the penalised kernels: the same gradient, without recomputing the
penalty every step. Its value is added to the logged losses, as Keras does.
Adam steps each parameter group as one flat tensor (`baselines.flat_adam`):
the same bits as `torch.optim.Adam`, a tenth of the kernel launches.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from baselines.data import DataBundle, TensorSplit
from baselines.device import AmpSettings, amp_settings, default_threads, keep_freed_memory
from baselines.flat_adam import FlatAdam
from baselines.metrics import macro_scores
from baselines.model import ZooModel
from baselines.protocols import Protocol

#: Keep the whole dataset on the GPU when it needs at most this fraction of free memory.
_GPU_RESIDENT_FRACTION = 0.25


class FitResult(NamedTuple):
    """What `fit` returns.

    ``best_epoch`` is the best epoch by the protocol's monitor (1-based, 0 if
    none); ``weights_epoch`` is the epoch whose weights the model holds at the
    end: ``best_epoch`` when the protocol restores the best weights, else the
    last epoch run.
    """

    history: list[dict[str, Any]]
    best_epoch: int
    stopped_early: bool
    diverged: bool
    wall_time: float
    weights_epoch: int


@contextlib.contextmanager
def reproducible(device: torch.device, seed: int, threads: int | None = None) -> Iterator[None]:
    """Seed torch, turn on deterministic algorithms (strict on CPU) and set threads; restore afterwards."""
    prev_det = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    prev_threads = torch.get_num_threads()
    prev_benchmark = torch.backends.cudnn.benchmark
    prev_fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.manual_seed(seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
        # deterministic mode would also fill every new tensor with NaN (a debugging aid: no kernel
        # reads memory it did not write); those fills were a fifth of a CPU step, and the numbers
        # are the same without them
        torch.utils.deterministic.fill_uninitialized_memory = False
        keep_freed_memory()
        torch.set_num_threads(threads or default_threads())
    else:  # GPU kernels may be nondeterministic: float noise only, and much faster
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)
        torch.set_num_threads(prev_threads)
        torch.backends.cudnn.benchmark = prev_benchmark
        torch.utils.deterministic.fill_uninitialized_memory = prev_fill


class BatchFeeder:
    """Serves shuffled minibatches of one split on the training device.

    CPU: batches are ``index_select`` slices of the host tensors. CUDA: the split
    is copied to the GPU once if it fits comfortably, otherwise each batch is
    gathered into one of two pinned host buffers and copied with
    ``non_blocking=True`` so the copy overlaps the previous step.
    """

    def __init__(self, split: TensorSplit, device: torch.device, batch_size: int) -> None:
        self.device, self.batch_size = device, batch_size
        self.n = int(split.x.shape[0])
        self.resident = device.type != "cuda" or _fits_on_gpu(split, device)
        if self.resident:
            self.x = split.x.to(device)
            self.y = split.y.to(device)
        else:
            self.x, self.y = split.x, split.y
            shape_x = (batch_size, *split.x.shape[1:])
            shape_y = (batch_size, *split.y.shape[1:])
            self._pinned = [
                (torch.empty(shape_x, pin_memory=True), torch.empty(shape_y, pin_memory=True)) for _ in range(2)
            ]
            self._events: list[torch.cuda.Event | None] = [None, None]

    @property
    def used(self) -> int:
        """Rows served per epoch: all, except that a last batch of a single row is left out.

        Batch norm cannot train on one value per channel (PyTorch refuses it), so when ``n`` is one
        more than a multiple of the batch size, each epoch leaves out its permutation's last row (a
        different row each epoch). Other sizes, the benchmark's among them, serve every row.
        """
        return self.n - 1 if self.n > 1 and self.n % self.batch_size == 1 else self.n

    def __len__(self) -> int:
        return math.ceil(self.used / self.batch_size)

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(self.n, generator=generator)[: self.used]
        if self.resident:
            order = order.to(self.device)
        for i, start in enumerate(range(0, self.used, self.batch_size)):
            idx = order[start : start + self.batch_size]
            if self.resident:
                yield self.x.index_select(0, idx), self.y.index_select(0, idx)
                continue
            slot = i % 2
            if self._events[slot] is not None:
                self._events[slot].synchronize()  # the previous copy out of this buffer is done
            bx, by = (buf[: idx.numel()] for buf in self._pinned[slot])
            torch.index_select(self.x, 0, idx, out=bx)
            torch.index_select(self.y, 0, idx, out=by)
            xb = bx.to(self.device, non_blocking=True)
            yb = by.to(self.device, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self._events[slot] = event
            yield xb, yb


def _fits_on_gpu(split: TensorSplit, device: torch.device) -> bool:
    free, _total = torch.cuda.mem_get_info(device)
    needed = split.x.numel() * split.x.element_size() + split.y.numel() * split.y.element_size()
    return needed <= _GPU_RESIDENT_FRACTION * free


@torch.inference_mode()
def predict(
    model: nn.Module,
    x: torch.Tensor,
    *,
    batch_size: int = 1000,
    device: torch.device | None = None,
    amp: AmpSettings | None = None,
) -> np.ndarray:
    """Sigmoid probabilities for every row of ``x`` (N, 4, L) -> (N, C) float32, in eval mode."""
    device = device or next(model.parameters()).device
    amp = amp or AmpSettings(False, torch.float32, False)
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, x.shape[0], batch_size):
        xb = x[start : start + batch_size].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=amp.dtype, enabled=amp.enabled):
            logits = model(xb)
        out.append(torch.sigmoid(logits.float()).cpu())
    model.train(was_training)
    return torch.cat(out).numpy()


def _bce(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities (clipped as Keras does, eps 1e-7)."""
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _l2_value(kernels: list[torch.Tensor], l2: float) -> float:
    with torch.no_grad():
        return float(l2 * sum(float(w.float().pow(2).sum()) for w in kernels))


def _optimizer(model: ZooModel, protocol: Protocol) -> torch.optim.Adam:
    kernels = model.l2_weights(include_output=protocol.l2_output)
    kernel_ids = {id(w) for w in kernels}
    rest = [p for p in model.parameters() if id(p) not in kernel_ids]
    groups = [
        {"params": kernels, "weight_decay": 2.0 * protocol.l2},
        {"params": rest, "weight_decay": 0.0},
    ]
    return torch.optim.Adam(
        groups, lr=protocol.lr, betas=(protocol.beta1, protocol.beta2), eps=protocol.adam_eps
    )


def _is_better(value: float, best: float, monitor: str) -> bool:
    if math.isnan(value):
        return False
    return value < best if monitor == "val_loss" else value > best


def fit(
    model: ZooModel,
    data: DataBundle,
    protocol: Protocol,
    *,
    device: torch.device,
    seed: int,
    amp: bool = True,
    cpu_amp: bool = False,
    progress: bool = True,
    log_file: IO[str] | None = None,
) -> FitResult:
    """Train ``model`` in place under ``protocol``; end on the best epoch's weights if
    ``protocol.restore_best``, else on the last epoch's (as Keras with
    ``restore_best_weights=False``).

    Parameters
    ----------
    model : ZooModel
        Freshly built (its initial weights come from the seed set by the caller).
    data : DataBundle
        ``train`` for steps, ``valid`` for the monitored criterion.
    device : torch.device
        Where to train; the model is moved there.
    seed : int
        Seeds the per-epoch shuffles (dropout uses torch's global RNG, seeded by `reproducible`).
    amp : bool
        Use autocast on CUDA (on CPU only together with ``cpu_amp``).
    cpu_amp : bool
        On CPU, train under bfloat16 autocast (`baselines.device.amp_settings`); default float32.
    log_file : text file, optional
        Receives one JSON line per epoch as it finishes.
    """
    from tqdm.auto import tqdm

    started = time.perf_counter()
    model.to(device)
    amp_cfg = amp_settings(device, enabled=amp, cpu=cpu_amp)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_cfg.use_scaler)
    optimizer = FlatAdam(_optimizer(model, protocol))  # same update, one kernel per op per group
    scheduler = None
    if protocol.plateau_factor:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer.adam,
            mode="min" if protocol.monitor == "val_loss" else "max",
            factor=protocol.plateau_factor,
            # Keras decays once `patience` epochs in a row failed to improve (wait >= patience);
            # torch once more than `patience` did: one less here gives Keras' schedule
            patience=protocol.plateau_patience - 1,
            min_lr=protocol.plateau_min_lr,
            threshold=1e-4,  # Keras: an improvement must beat the best by min_delta 1e-4, absolute
            threshold_mode="abs",
        )
    feeder = BatchFeeder(data.train, device, protocol.batch_size)
    # CPU: the channels-last path (same function, faster oneDNN kernels); GPUs keep cuDNN's layout
    train_forward = model.forward_channels_last if device.type == "cpu" else model
    generator = torch.Generator().manual_seed(seed)
    kernels = model.l2_weights(include_output=protocol.l2_output)
    best = math.inf if protocol.monitor == "val_loss" else -math.inf
    best_epoch, best_state, waited = 0, None, 0
    history: list[dict[str, Any]] = []
    stopped_early = diverged = False
    y_valid = data.valid.y.numpy()

    for epoch in range(1, protocol.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        total = torch.zeros((), device=device)
        seen = 0
        bar = tqdm(
            total=len(feeder), desc=f"epoch {epoch}/{protocol.epochs}", unit="batch",
            disable=not progress, leave=True, dynamic_ncols=True,
        )
        for step, (xb, yb) in enumerate(feeder.epoch(generator), start=1):
            with torch.autocast(device.type, dtype=amp_cfg.dtype, enabled=amp_cfg.enabled):
                logits = train_forward(xb)
            loss = F.binary_cross_entropy_with_logits(logits.float(), yb)
            optimizer.zero_grad()
            scaler.scale(loss).backward()
            optimizer.gather_grads()
            scaler.step(optimizer.adam)
            scaler.update()
            total += loss.detach() * xb.shape[0]
            seen += xb.shape[0]
            bar.update(1)
            if progress and (step % 20 == 0 or step == len(feeder)):
                bar.set_postfix(loss=f"{float(total) / seen:.4f}")
        train_bce = float(total) / max(seen, 1)
        l2_term = _l2_value(kernels, protocol.l2)
        probs = predict(model, data.valid.x, batch_size=protocol.eval_batch_size, device=device, amp=amp_cfg)
        scores = macro_scores(y_valid, probs)
        record = {
            "epoch": epoch,
            "loss": train_bce + l2_term,
            "bce": train_bce,
            "val_loss": _bce(y_valid, probs) + l2_term,
            "val_auroc": scores.auroc,
            "val_aupr": scores.aupr,
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - t0,
        }
        current = record[protocol.monitor]
        if _is_better(current, best, protocol.monitor):
            best, best_epoch, waited = current, epoch, 0
            if protocol.restore_best:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
        record["best_epoch"] = best_epoch
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.4f}", val_loss=f"{record['val_loss']:.4f}", val_auPR=f"{scores.aupr:.4f}")
        bar.close()
        if log_file is not None:
            log_file.write(json.dumps(record) + "\n")
            log_file.flush()
        if not math.isfinite(train_bce) or not np.isfinite(probs).all():
            diverged = True
            break
        if scheduler is not None and not math.isnan(current):
            scheduler.step(current)
        if waited >= protocol.patience:  # Keras EarlyStopping: stop once `patience` epochs fail to improve
            stopped_early = True
            break

    optimizer.release()  # every parameter gets its own storage again: an ordinary module from here on
    weights_epoch = len(history)
    if best_state is not None:
        model.load_state_dict(best_state)
        weights_epoch = best_epoch
    model.eval()
    return FitResult(history, best_epoch, stopped_early, diverged, time.perf_counter() - started, weights_epoch)


def write_curves(history: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Loss (train/validation) and validation auPR per epoch, best epoch marked, as a PNG."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax_loss, ax_pr = fig.subplots(1, 2)
    ax_loss.plot(epochs, [r["loss"] for r in history], label="train")
    ax_loss.plot(epochs, [r["val_loss"] for r in history], label="validation")
    ax_loss.set(xlabel="epoch", ylabel="BCE + L2", title="loss")
    ax_pr.plot(epochs, [r["val_aupr"] for r in history], color="tab:green")
    ax_pr.set(xlabel="epoch", ylabel="macro auPR", title="validation auPR")
    if history:
        best = history[-1]["best_epoch"]
        for ax in (ax_loss, ax_pr):
            if best:
                ax.axvline(best, color="grey", linestyle=":", label=f"best epoch {best}")
        ax_loss.legend(frameon=False)
    for ax in (ax_loss, ax_pr):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    return path
