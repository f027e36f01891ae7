"""Running a submitted model: ONNX Runtime session, first-layer tap, batched predict.

Every model reaches the evaluator as one ONNX file (a baseline checkpoint is
exported to ONNX by the caller first: ``motifbench evaluate`` does it for run
folders, see :mod:`motifbench.checkpoints`), with input float32
``[batch, 4, L]`` (A,C,G,T) and output ``[batch, 12]`` probabilities or logits.
Besides the prediction the evaluator needs the *first-layer activations*
(after normalisation and activation, before pooling), because motif recovery
is measured on what the filters respond to, never on raw weights (exporters
fold BatchNorm into the conv, so raw weights would mislead). That tensor, the
"tap", is either declared by name, or is a graph output called
``first_layer`` (what ``baselines.export`` writes), or is found by walking the
graph from the input to the first ``Conv`` and on through elementwise and
layout ops to the activation (:func:`evaluator.onnx_tap.find_tap`), tracking where the filter and
length axes go. An internal tap is added as an extra graph output in memory;
the file on disk is never changed. A model may also expose a ``[batch, 12]``
logits output (metadata ``motifbench.logits_output`` or declared), which ISM
differentiates instead of clipped probabilities (:meth:`OnnxModel.ism_logits`).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from benchmark.files import file_sha256
from evaluator.onnx_graph import Graph, _input_dims, _with_outputs, load_onnx
from evaluator.onnx_rules import (
    METADATA_LOGITS_OUTPUT,
    METADATA_OUTPUT_KIND,
    N_CLASSES,
    ModelError,
    ModelOutputError,
    TapNotFoundError,
    UnsupportedLayerError,
    choose_prediction_output,
    declared_logits_output,
    resolve_output_kind,
)
from evaluator.onnx_tap import TapSpec, find_tap, resolve_tap_axes
from evaluator.output_range import clip_probabilities, probability_range_problem

#: Names other modules and tests import from here (the session module is the evaluator's model door).
__all__ = [
    "METADATA_LOGITS_OUTPUT", "METADATA_OUTPUT_KIND", "ModelError", "ModelInfo", "ModelOutputError", "OnnxModel",
    "TapNotFoundError", "TapSpec", "UnsupportedLayerError", "find_tap", "inspect_model",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    """What validation and the record need to know about a model (all JSON-ready)."""

    path: str
    sha256: str
    input_name: str
    output_name: str
    output_kind: str
    output_kind_source: str
    tap_name: str | None
    tap_source: str | None
    tap_path: list[str]
    n_filters: int | None
    filter_width: int | None
    input_length: int
    tap_length: int | None
    opset: int
    producer: str
    fixed_batch: int | None = None
    tap_axes: str = "NCS"
    tap_has_activation: bool | None = None
    tap_notes: list[str] = field(default_factory=list)
    logits_output: str | None = None
    logits_output_source: str | None = None
    extra: dict = field(default_factory=dict)
    #: Why there is no first-layer tap (``tap_name`` None): the finder's message. The model is still
    #: evaluated (classification, attribution, discovery); its first-layer columns are n/a.
    tap_missing: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def default_providers() -> list[str]:
    """CUDA first when this onnxruntime build has it, CPU always."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider",) if p in available]
    return providers + ["CPUExecutionProvider"]


def default_threads() -> int:
    """Intra-op threads: ``$MOTIFBENCH_THREADS`` or the CPUs this process may use."""
    env = os.environ.get("MOTIFBENCH_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def session_options(threads: int):
    """ONNX Runtime options of every evaluator session: ``threads`` intra-op threads that sleep when idle.

    Spinning idle workers (ONNX Runtime's default) would take the core from the threads the
    evaluation runs beside its sessions (logos, the recovery bootstrap) and from other processes;
    turning it off changes no number.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def random_onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    """Deterministic random one-hot sequences, float32 ``(n, 4, length)``, for shape probes."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 4, size=(n, length))
    return np.ascontiguousarray(np.eye(4, dtype=np.float32)[idx].transpose(0, 2, 1))


def _declared_outputs(model) -> list[tuple[str, list]]:
    """``(name, declared dims)`` of each graph output (free dims as None)."""
    return [(o.name, [d.dim_value if d.HasField("dim_value") else None for d in o.type.tensor_type.shape.dim])
            for o in model.graph.output]


class OnnxModel:
    """An ONNX model opened for evaluation: prediction output plus first-layer tap.

    Parameters
    ----------
    path: the ``.onnx`` file.
    length: sequence length L of the data it will see (shapes are checked against it).
    tap: declared first-layer tensor name, or None to find it.
    output_kind: ``"probabilities"`` / ``"logits"`` if declared, else guessed from the graph.
    threads: ONNX Runtime intra-op threads (default :func:`default_threads`).
    providers: ONNX Runtime execution providers (default :func:`default_providers`).
    logits_output: name of a ``[batch, 12]`` logits tensor that ISM should
        differentiate instead of the prediction output (default: the one named
        by the metadata key :data:`METADATA_LOGITS_OUTPUT`, else none).
    """

    def __init__(self, path: str | Path, length: int, tap: str | None = None, output_kind: str | None = None,
                 threads: int | None = None, providers: list[str] | None = None, logits_output: str | None = None):
        import onnxruntime as ort

        self.path = Path(path)
        model = load_onnx(self.path)
        g = Graph(model)
        if len(g.inputs) != 1:
            raise ModelError(f"the model must have exactly one input tensor, it has {len(g.inputs)}: {g.inputs}")
        self.input_name = g.inputs[0]
        dims = _input_dims(model, self.input_name)
        if len(dims) != 3:
            raise ModelError(f"model input {self.input_name!r} has rank {len(dims)} {dims}; expected [batch, 4, L]")
        if isinstance(dims[1], int) and dims[1] not in (0, 4):
            raise ModelError(f"model input {self.input_name!r} has {dims[1]} channels; expected 4 (A,C,G,T) at axis 1")
        if isinstance(dims[2], int) and dims[2] not in (0, length):
            raise ModelError(f"model input length is fixed to {dims[2]} but the dataset's sequences have length {length}")
        self.fixed_batch = dims[0] if isinstance(dims[0], int) and dims[0] > 0 else None
        self.tap_missing: str | None = None
        try:
            self.tap: TapSpec | None = find_tap(model, tap, length=length)
        except (TapNotFoundError, UnsupportedLayerError) as exc:
            if tap is not None:  # a declared tap that is wrong is the submitter's mistake
                raise
            # no findable first layer (dense, strided/dilated or multi-branch stems, transformers):
            # evaluated without first-layer motif recovery (n/a, never zero)
            self.tap, self.tap_missing = None, str(exc)
            log.info("no first-layer tap: %s", exc)
        tap_name = self.tap.name if self.tap is not None else None
        meta = {p.key: p.value for p in model.metadata_props}
        self.logits_output, self.logits_output_source = declared_logits_output(meta, logits_output)
        if self.logits_output and not g.tensor_exists(self.logits_output):
            where = ("declared" if self.logits_output_source == "declared"
                     else f"named by the metadata key {METADATA_LOGITS_OUTPUT!r}")
            raise ModelError(f"logits output {self.logits_output!r} ({where}) is not in the graph "
                             f"(graph outputs: {g.outputs})")
        self.output_name = choose_prediction_output(_declared_outputs(model), tap_name, self.logits_output)
        self.output_kind, self.output_kind_source = resolve_output_kind(output_kind, meta, g.producer,
                                                                        self.output_name)
        options = session_options(threads or default_threads())
        extra_outputs = ([tap_name] if tap_name else []) + ([self.logits_output] if self.logits_output else [])
        try:
            self.session = ort.InferenceSession(
                _with_outputs(model, extra_outputs), sess_options=options,
                providers=providers or default_providers(),
            )
        except Exception as exc:
            raise ModelError(f"ONNX Runtime cannot open {self.path}: {exc}") from exc
        self.length = length
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        producer = f"{model.producer_name} {model.producer_version}".strip()
        probe = random_onehot(self.fixed_batch or 2, length)
        out, tap_raw = self._run(probe, want_tap=self.tap is not None)
        self._check_output(out, probe.shape[0])
        if self.logits_output:
            self._check_logits(probe, out)
        common = dict(path=str(self.path), sha256=file_sha256(self.path), input_name=self.input_name,
                      output_name=self.output_name, output_kind=self.output_kind,
                      output_kind_source=self.output_kind_source, input_length=int(length), opset=int(opset),
                      producer=producer, fixed_batch=self.fixed_batch, logits_output=self.logits_output,
                      logits_output_source=self.logits_output_source,
                      extra={"providers": self.session.get_providers(), "threads": options.intra_op_num_threads})
        if self.tap is None:
            self.info = ModelInfo(tap_name=None, tap_source=None, tap_path=[], n_filters=None, filter_width=None,
                                  tap_length=None, tap_axes=None, tap_missing=self.tap_missing, **common)
            return
        notes = list(self.tap.notes)
        if not self.tap.layout_known:
            axes, layout_notes = resolve_tap_axes(self.tap.name, tuple(tap_raw.shape), self.tap.n_filters)
            self.tap = replace(self.tap, axes=axes, layout_known=True)
            notes += list(layout_notes)
        acts = self._tap_to_ncl(tap_raw)
        n_filters = self.tap.n_filters or acts.shape[1]
        if self.tap.n_filters and acts.shape[1] != self.tap.n_filters:
            log.warning("tap %s has %d channels but the first conv has %d filters", self.tap.name, acts.shape[1], self.tap.n_filters)
            n_filters = acts.shape[1]
        if acts.shape[2] > length:
            raise ModelError(f"tap {self.tap.name!r} is longer ({acts.shape[2]}) than the input ({length}); "
                             "is it the first-layer activation?")
        self.info = ModelInfo(
            tap_name=self.tap.name, tap_source=self.tap.source, tap_path=list(self.tap.path),
            n_filters=int(n_filters), filter_width=self.tap.filter_width, tap_length=int(acts.shape[2]),
            tap_axes="".join(self.tap.axes), tap_has_activation=self.tap.has_activation, tap_notes=notes, **common,
        )

    # -- raw runs ---------------------------------------------------------------------
    def _fetch(self, x: np.ndarray, names: list[str]) -> list[np.ndarray]:
        """One ONNX Runtime call (padded to a fixed batch); the named tensors, cut to ``len(x)`` rows."""
        batch = x.shape[0]
        if self.fixed_batch and batch != self.fixed_batch:
            pad = np.zeros((self.fixed_batch - batch,) + x.shape[1:], dtype=np.float32)
            x = np.concatenate([x, pad])
        try:
            results = self.session.run(names, {self.input_name: np.ascontiguousarray(x, dtype=np.float32)})
        except Exception as exc:
            raise ModelError(f"the model failed to run on input of shape {list(x.shape)}: {exc}") from exc
        return [np.asarray(r)[:batch] for r in results]

    def _run(self, x: np.ndarray, want_tap: bool) -> tuple[np.ndarray, np.ndarray | None]:
        if want_tap and self.tap is None:
            raise TapNotFoundError(f"this model has no first-layer tap ({self.tap_missing})")
        results = self._fetch(x, [self.output_name, self.tap.name] if want_tap else [self.output_name])
        return results[0], (results[1] if want_tap else None)

    def _check_logits(self, probe: np.ndarray, out: np.ndarray) -> None:
        """The logits output must be ``[batch, 12]``, finite, and the logits of the prediction output."""
        name = self.logits_output
        logits = self._fetch(probe, [name])[0]
        if logits.shape != out.shape:
            raise ModelOutputError(f"logits output {name!r} has shape {list(logits.shape)}; expected "
                                   f"[batch, {N_CLASSES}] like the prediction output {self.output_name!r}")
        if not np.all(np.isfinite(logits)):
            raise ModelOutputError(f"logits output {name!r} contains NaN/inf values")
        expected = self.to_probabilities(out)
        got = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
        gap = float(np.max(np.abs(got - expected)))
        if gap > 1e-3:
            raise ModelOutputError(
                f"logits output {name!r} ({self.logits_output_source}) is not the logit of the prediction output "
                f"{self.output_name!r}: sigmoid({name}) differs from the predicted probabilities by up to {gap:.3g}"
            )

    def _check_output(self, out: np.ndarray, batch: int) -> None:
        if out.ndim != 2 or out.shape != (batch, N_CLASSES):
            raise ModelOutputError(
                f"output {self.output_name!r} has shape {list(out.shape)}; expected [batch, {N_CLASSES}] (one column per class)"
            )
        if not np.all(np.isfinite(out)):
            bad = int((~np.isfinite(out)).sum())
            raise ModelOutputError(f"output {self.output_name!r} contains {bad} NaN/inf values")
        problem = (probability_range_problem(float(out.min()), float(out.max()), dtype=out.dtype)
                   if self.output_kind == "probabilities" else None)
        if problem:
            raise ModelOutputError(
                f"output {self.output_name!r} was {'declared' if self.output_kind_source == 'declared' else 'taken'} "
                f"as probabilities but {problem}; if it holds logits, declare --output-kind logits"
            )

    def _tap_to_ncl(self, tap: np.ndarray) -> np.ndarray:
        """Tap tensor in its own layout -> float32 ``(batch, n_filters, tap_length)``.

        Size-1 axes (``"1"`` labels, the singleton axis of a 2-D conv) are dropped.
        """
        axes = self.tap.axes
        if tap.ndim != len(axes):
            raise TapNotFoundError(f"tap {self.tap.name!r} has shape {list(tap.shape)}, but its layout was tracked "
                                   f"as {''.join(axes)} (rank {len(axes)}); declare --tap")
        order = ([axes.index("N"), axes.index("C")] + [i for i, a in enumerate(axes) if a == "S"]
                 + [i for i, a in enumerate(axes) if a == "1"])
        arr = np.transpose(tap, order)
        spatial = arr.shape[2:]
        long_axes = [i for i, s in enumerate(spatial) if s != 1]
        if len(long_axes) > 1:
            raise TapNotFoundError(f"tap {self.tap.name!r} has shape {list(tap.shape)}: more than one spatial axis")
        arr = arr.reshape(arr.shape[0], arr.shape[1], int(np.prod(spatial)) if spatial else 1)
        return np.ascontiguousarray(arr, dtype=np.float32)

    # -- public -----------------------------------------------------------------------
    def batches(self, x: np.ndarray, batch_size: int, want_tap: bool = True) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
        """Run ``x`` in batches; yields ``(start, outputs (B, 12), tap (B, F, L') or None)``.

        Outputs are checked (shape, finiteness, range when probabilities);
        the one batching helper every stage uses.
        """
        step = self.fixed_batch or batch_size
        for start in range(0, x.shape[0], step):
            chunk = x[start:start + step]
            out, tap = self._run(chunk, want_tap)
            self._check_output(out, chunk.shape[0])
            yield start, out, (self._tap_to_ncl(tap) if want_tap else None)

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Raw outputs for ``x`` float32 ``(N, 4, L)`` -> ``(N, 12)`` (probabilities or logits, as the model gives)."""
        return np.concatenate([out for _, out, _ in self.batches(x, batch_size, want_tap=False)]) if len(x) else np.zeros((0, N_CLASSES), np.float32)

    def to_probabilities(self, out: np.ndarray) -> np.ndarray:
        """Outputs -> probabilities (sigmoid of logits), float64."""
        if self.output_kind == "probabilities":
            return clip_probabilities(out)  # float32 round-off (Sigmoid's 1.0000001) accepted, then clipped
        out = np.asarray(out, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-out))

    def to_logits(self, out: np.ndarray, eps: float = 1e-6) -> np.ndarray:
        """Outputs -> logits, float64; probabilities are clipped to ``[eps, 1-eps]`` first."""
        out = np.asarray(out, dtype=np.float64)
        if self.output_kind == "logits":
            return out
        p = np.clip(out, eps, 1.0 - eps)
        return np.log(p) - np.log1p(-p)

    @property
    def ism_output(self) -> dict:
        """Which tensor ISM differentiates and how it becomes a logit (for the record)."""
        if self.logits_output:
            return {"output_name": self.logits_output, "output_source": f"logits output ({self.logits_output_source})"}
        if self.output_kind == "logits":
            return {"output_name": self.output_name, "output_source": "prediction output (logits)"}
        return {"output_name": self.output_name, "output_source": "prediction output (probabilities, clipped logit)"}

    def ism_logits(self, x: np.ndarray, batch_size: int = 256, eps: float = 1e-6) -> np.ndarray:
        """Class logits for ISM, float64 ``(N, 12)``.

        From the logits output when the model has one (exact, no saturation);
        else :meth:`to_logits` of the prediction output (probabilities clipped
        to ``[eps, 1-eps]``, so saturated sigmoids give ties).
        """
        if not self.logits_output or self.logits_output == self.output_name:
            return self.to_logits(self.predict(x, batch_size), eps)
        if not len(x):
            return np.zeros((0, N_CLASSES), np.float64)
        step = self.fixed_batch or batch_size
        parts = [self._fetch(x[s:s + step], [self.logits_output])[0] for s in range(0, x.shape[0], step)]
        logits = np.concatenate(parts).astype(np.float64)
        if not np.all(np.isfinite(logits)):
            raise ModelOutputError(f"logits output {self.logits_output!r} contains NaN/inf values")
        return logits


def inspect_model(path: str | Path, length: int, tap: str | None = None, output_kind: str | None = None,
                  logits_output: str | None = None) -> ModelInfo:
    """Open a model, find its tap, run a two-sequence probe and report what was found.

    Used by submission validation: any problem raises a :class:`ModelError`
    subclass with a message a submitter can act on.
    """
    return OnnxModel(path, length, tap=tap, output_kind=output_kind, threads=1, logits_output=logits_output).info


# --------------------------------------------------------------------------------------
# one door: ONNX file or baseline checkpoint
