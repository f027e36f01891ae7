"""In silico mutagenesis that recomputes only what a substitution changes.

A single-base change at position ``i`` changes the first-layer outputs only
at the ``w`` positions whose window (filter width ``w``) covers ``i``. So,
when a model's first layer is found and is the single path from the input
to the output, ISM can

1. run the *head* (input -> first-layer tap) once per sequence, and for each
   mutant only on a ``2w - 1`` crop around the substitution, with the first
   conv unpadded so it computes just the ``w`` columns the substitution
   changes (each reads crop columns only, so they are the padded head's
   columns bit for bit; tested on every bundled baseline);
2. when the tap feeds a max-pool (every zoo model), update only the pooled
   positions whose windows meet the changed ``w`` positions (a max is exact,
   so this is the pool's own value);
3. run the *tail* (pooled tensor -> ISM output) on the updated pooled tensors.

The numbers are full ISM's up to float rounding (ONNX Runtime may fuse the
split graphs differently): :meth:`IncrementalIsm.build` checks this on a
probe before it is used, and :func:`evaluator.attribution.ism_delta` falls
back to full ISM whenever the conditions fail (the reason is logged). On
CNN-25 (30 x 19 first layer, 200 bp) the head costs 43k multiply-adds per
mutant instead of 456k, and the tail starts from a 30 x 8 pooled tensor.
(The tail, ~290k multiply-adds per mutant on CNN-25, is most of what is left:
its second conv and dense layers see every pooled position, and a mutant
changes one or two of the eight, so recomputing "only what changed" after the
pool would save under a fifth of it.)
"""
from __future__ import annotations

import logging

import numpy as np

from evaluator.onnx_model import ModelError, OnnxModel, load_onnx, session_options

log = logging.getLogger(__name__)

#: Ops allowed between the first Conv and the tap: element-wise, position by position.
ELEMENTWISE_OPS = frozenset({
    "Relu", "Exp", "Sigmoid", "Tanh", "Softplus", "Elu", "Selu", "LeakyRelu", "PRelu", "HardSigmoid",
    "Gelu", "Erf", "Mul", "Add", "Sub", "Div", "BatchNormalization", "Identity", "Clip", "Abs", "Neg",
    "Sqrt", "Pow", "Softsign", "ThresholdedRelu", "Celu", "Mish", "HardSwish",
})
#: Largest |incremental - full| logit difference accepted on the probe.
PROBE_TOLERANCE = 1e-3


class NotIncremental(Exception):
    """Why incremental ISM does not apply to a model (full ISM is used instead)."""


def _conv_geometry(conv, length: int) -> tuple[int, int]:
    """(filter width, left padding) of a stride-1, undilated, ungrouped 1-D conv."""
    attrs = {a.name: a for a in conv.attribute}
    for name in ("strides", "dilations"):
        if name in attrs and any(int(v) != 1 for v in attrs[name].ints):
            raise NotIncremental(f"first conv has {name} {list(attrs[name].ints)}")
    if "group" in attrs and int(attrs["group"].i) != 1:
        raise NotIncremental("first conv is grouped")
    shape = list(attrs["kernel_shape"].ints) if "kernel_shape" in attrs else None
    if shape is None or len(shape) != 1:
        raise NotIncremental(f"first conv kernel shape {shape} is not 1-D")
    width = int(shape[0])
    auto = attrs["auto_pad"].s.decode() if "auto_pad" in attrs else "NOTSET"
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        total = width - 1
        pad_left = total // 2 if auto == "SAME_UPPER" else total - total // 2
    elif auto == "VALID":
        pad_left = 0
    else:
        pads = list(attrs["pads"].ints) if "pads" in attrs else [0, 0]
        pad_left = int(pads[0])
    return width, pad_left


def _subgraph(model, inputs: list[str], outputs: list[str], dynamic_length: bool):
    """The part of ``model`` from ``inputs`` to ``outputs``; an error if it needs any other graph input."""
    import onnx
    from onnx.utils import Extractor

    inferred = onnx.shape_inference.infer_shapes(model)
    sub = Extractor(inferred).extract_model(inputs, outputs)
    available = set(inputs) | {i.name for i in sub.graph.initializer}
    for node in sub.graph.node:
        for name in node.input:
            if name and name not in available:
                raise NotIncremental(f"the output depends on {name!r} by a path that avoids the first layer")
        available.update(node.output)
    if dynamic_length:
        for vi in list(sub.graph.input) + list(sub.graph.output):
            dims = vi.type.tensor_type.shape.dim
            for axis in (0, len(dims) - 1):
                if len(dims) > axis:
                    dims[axis].Clear()
                    dims[axis].dim_param = f"d{axis}"
        del sub.graph.value_info[:]
    else:
        dims = sub.graph.input[0].type.tensor_type.shape.dim
        if len(dims):
            dims[0].Clear()
            dims[0].dim_param = "batch"
    return sub


class IncrementalIsm:
    """Head and tail sessions of a model split at its first-layer tap (see the module docstring).

    Build with :meth:`build`, which raises :class:`NotIncremental` when the
    model does not qualify.
    """

    def __init__(self, model: OnnxModel, head, tail, width: int, pad_left: int, out_name: str,
                 pool: tuple[int, int, int, int], crop_head=None):
        self.model = model
        self.head = head
        self.crop_head = crop_head  # the head with its conv unpadded: a (2w - 1)-wide crop -> the w columns used
        self.tail = tail
        self.width = width
        self.pad_left = pad_left
        self.out_name = out_name
        self.pool = pool  # (kernel, stride, left pad, pooled length)

    @classmethod
    def build(cls, model: OnnxModel) -> IncrementalIsm:
        """Split ``model`` at its tap and check the split on a probe; :class:`NotIncremental` if it can't."""
        import onnxruntime as ort

        tap = model.tap
        if tap is None:
            raise NotIncremental("the model has no first-layer tap")
        if model.fixed_batch:
            raise NotIncremental("the model has a fixed batch size")
        if tuple(tap.axes) != ("N", "C", "S"):
            raise NotIncremental(f"tap layout {''.join(tap.axes)} is not NCS")
        if not tap.path or tap.path[0] != "Conv" or any(op not in ELEMENTWISE_OPS for op in tap.path[1:]):
            raise NotIncremental(f"the ops between the first conv and the tap ({list(tap.path)}) are not all element-wise")
        if int(model.info.tap_length) != model.length:
            raise NotIncremental(f"tap length {model.info.tap_length} differs from the input length {model.length}")
        proto = load_onnx(model.path)
        convs = [n for n in proto.graph.node if n.op_type == "Conv" and n.input and n.input[0] == model.input_name]
        if len(convs) != 1:
            raise NotIncremental("the input does not feed exactly one Conv directly")
        width, pad_left = _conv_geometry(convs[0], model.length)
        users = [n for n in proto.graph.node if tap.name in n.input]
        if len(users) != 1 or users[0].op_type != "MaxPool":
            raise NotIncremental("the tap does not feed exactly one MaxPool (nothing to skip after it)")
        pool = _pool_geometry(users[0], model.length)
        out_name = model.ism_output["output_name"]
        head = _subgraph(proto, [model.input_name], [tap.name], dynamic_length=True)
        tail = _subgraph(proto, [users[0].output[0]], [out_name], dynamic_length=False)
        options = session_options(int(model.info.extra.get("threads", 1)))
        providers = model.session.get_providers()
        try:
            head_s = ort.InferenceSession(head.SerializeToString(), sess_options=options, providers=providers)
            tail_s = ort.InferenceSession(tail.SerializeToString(), sess_options=options, providers=providers)
        except Exception as exc:  # ONNX Runtime refuses the split graph
            raise NotIncremental(f"ONNX Runtime cannot run the split model: {exc}") from exc
        crop_s = None
        try:
            crop_s = ort.InferenceSession(_unpadded(head, model.input_name).SerializeToString(), sess_options=options,
                                          providers=providers)
        except Exception as exc:  # keep the padded head on the crop (twice the columns, the same numbers)
            log.info("unpadded crop head not used for %s: %s", model.path.name, exc)
        inc = cls(model, head_s, tail_s, width, pad_left, out_name, pool, crop_s)
        inc._probe()
        return inc

    def _probe(self) -> None:
        """Compare with full ISM on two random sequences (every mutant); NotIncremental if they differ."""
        from evaluator.ism_mutants import mutants
        from evaluator.onnx_model import random_onehot

        x = random_onehot(2, self.model.length, seed=7)
        classes = np.array([0, 5])
        got = self.delta(x, classes)
        full = self.model.ism_logits(mutants(x).reshape(-1, 4, self.model.length))
        ref = self.model.ism_logits(x)
        want = full.reshape(2, -1, full.shape[-1])[np.arange(2), :, classes] - ref[np.arange(2), classes][:, None]
        ref_pos = x.argmax(axis=1)
        alts = (ref_pos[:, :, None] + np.arange(1, 4)) % 4
        got_flat = np.take_along_axis(got.transpose(0, 2, 1), alts, axis=2).reshape(2, -1)
        gap = float(np.max(np.abs(got_flat - want)))
        if not np.isfinite(gap) or gap > PROBE_TOLERANCE:
            raise NotIncremental(f"split model differs from the full model by {gap:.3g} on the probe")

    def _logits(self, taps: np.ndarray, eps: float) -> np.ndarray:
        out = self.tail.run([self.out_name], {self.tail.get_inputs()[0].name: taps})[0]
        if self.out_name == self.model.logits_output:
            return np.asarray(out, np.float64)
        return self.model.to_logits(out, eps)

    def _crop_taps(self, crops: np.ndarray) -> np.ndarray:
        """First-layer columns ``pad .. pad + w - 1`` of each ``(4, 2w - 1)`` crop, shape (M, F, w).

        Column ``k`` of the crop centred on position ``i`` is tap position ``i + pad - w + 1 + k``: the only
        columns a substitution at the crop's centre changes, and each one reads crop columns only (no padding).
        """
        w, pad = self.width, self.pad_left
        if self.crop_head is not None:
            return self.crop_head.run(None, {self.crop_head.get_inputs()[0].name: crops})[0]
        return self.head.run(None, {self.head.get_inputs()[0].name: crops})[0][:, :, pad:pad + w]

    def _pool_windows(self) -> list[tuple[int, int]]:
        """Each pooled position's tap range [a, b] (padding excluded)."""
        k, stride, pad, n_out = self.pool
        length = self.model.length
        return [(max(0, p * stride - pad), min(length - 1, p * stride - pad + k - 1)) for p in range(n_out)]

    def delta(self, x: np.ndarray, classes: np.ndarray, batch_mutants: int = 9600, eps: float = 1e-6) -> np.ndarray:
        """Mutant-minus-reference logit map, as :func:`evaluator.attribution.ism_delta` returns it.

        x : ndarray, shape (S, 4, L), float32 one-hot. classes : ndarray, shape (S,).
        Returns float64, shape (S, 4, L), 0 at each reference base.
        """
        s, _, length = x.shape
        w, pad = self.width, self.pad_left
        head_in = self.head.get_inputs()[0].name
        ref_taps = self.head.run(None, {head_in: np.ascontiguousarray(x, np.float32)})[0]  # (S, F, L)
        windows_p = self._pool_windows()
        ref_pooled = np.stack([ref_taps[:, :, a:b + 1].max(axis=2) for a, b in windows_p], axis=2)  # (S, F, P)
        ref_logits = self._logits(ref_pooled, eps)[np.arange(s), classes]
        # crop for position i: c[t] = x[i - w + 1 + t], t in [0, 2w - 1), zeros outside the sequence
        xp = np.zeros((s, 4, length + 2 * (w - 1)), np.float32)
        xp[:, :, w - 1:w - 1 + length] = x
        ref = x.argmax(axis=1)
        delta = np.zeros((s, 4, length), np.float64)
        positions = np.arange(length)
        step = max(1, batch_mutants // (3 * length))
        for start in range(0, s, step):
            seqs = np.arange(start, min(s, start + step))
            b = seqs.size
            crops = np.lib.stride_tricks.sliding_window_view(xp[seqs], 2 * w - 1, axis=2)  # (b, 4, L, 2w-1)
            crops = np.repeat(crops.transpose(0, 2, 1, 3)[:, :, None], 3, axis=2).copy()  # (b, L, 3, 4, 2w-1)
            alts = (ref[seqs][:, :, None] + np.arange(1, 4)) % 4  # (b, L, 3)
            crops[:, :, :, :, w - 1] = 0.0
            bi, li, ji = np.meshgrid(np.arange(b), positions, np.arange(3), indexing="ij")
            crops[bi, li, ji, alts, w - 1] = 1.0
            win = self._crop_taps(crops.reshape(-1, 4, 2 * w - 1))
            win = win.reshape(b, length, 3, -1, w)  # column k = tap position i + pad - w + 1 + k
            pooled = np.repeat(ref_pooled[seqs][:, None, None], 3, axis=2)
            pooled = np.repeat(pooled, length, axis=1)  # (b, L, 3, F, P)
            for p, (a, e) in enumerate(windows_p):
                # positions whose changed range [i + pad - w + 1, i + pad] meets [a, e]
                lo_i, hi_i = max(0, a - pad), min(length - 1, e - pad + w - 1)
                if lo_i > hi_i:
                    continue
                ii = np.arange(lo_i, hi_i + 1)
                seg = ref_taps[seqs][:, :, a:e + 1]  # (b, F, e - a + 1)
                best = np.full((b, ii.size, 3, seg.shape[1]), -np.inf, np.float32)
                o1 = ii + pad - w + 1  # first changed tap position of each i (increasing)
                left = o1 - 1 - a  # unchanged ref positions a .. o1 - 1 (when left >= 0)
                sl = slice(int(np.searchsorted(left, 0)), ii.size)
                if sl.start < sl.stop:
                    before = np.maximum.accumulate(seg, axis=2)  # max of ref over [a, t]
                    np.maximum(best[:, sl], before[:, :, left[sl]].transpose(0, 2, 1)[:, :, None], out=best[:, sl])
                right = o1 + w - a  # unchanged ref positions o2 + 1 .. e (when right <= e - a)
                sl = slice(0, int(np.searchsorted(right, e - a, side="right")))
                if sl.start < sl.stop:
                    after = np.maximum.accumulate(seg[:, :, ::-1], axis=2)[:, :, ::-1]  # max over [t, e]
                    np.maximum(best[:, sl], after[:, :, right[sl]].transpose(0, 2, 1)[:, :, None], out=best[:, sl])
                win_p = win[:, lo_i:hi_i + 1]  # (b, n, 3, F, w)
                for k in range(w):  # tap position o1 + k, inside [a, e] for a contiguous run of i
                    first = int(np.searchsorted(o1 + k, a))
                    last = int(np.searchsorted(o1 + k, e, side="right"))
                    if first < last:
                        part = best[:, first:last]
                        np.maximum(part, win_p[:, first:last, :, :, k], out=part)
                pooled[:, lo_i:hi_i + 1, :, :, p] = best
            logits = self._logits(pooled.reshape(b * length * 3, *pooled.shape[3:]), eps).reshape(b, length, 3, -1)
            chosen = np.take_along_axis(logits, classes[seqs][:, None, None, None], axis=3)[..., 0]
            delta[seqs[:, None, None], alts, positions[None, :, None]] = chosen - ref_logits[seqs][:, None, None]
        return delta


def _unpadded(head, input_name: str):
    """A copy of the head graph whose first conv (the one reading ``input_name``) has no padding."""
    import onnx
    from onnx import helper

    model = onnx.ModelProto()
    model.CopyFrom(head)
    conv = next(n for n in model.graph.node if n.op_type == "Conv" and n.input[0] == input_name)
    kept = [a for a in conv.attribute if a.name not in ("auto_pad", "pads")]
    del conv.attribute[:]
    conv.attribute.extend(kept + [helper.make_attribute("pads", [0, 0])])
    return model


def _pool_geometry(pool, length: int) -> tuple[int, int, int, int]:
    """(kernel, stride, left pad, output length) of a 1-D MaxPool over a length-``length`` input."""
    attrs = {a.name: a for a in pool.attribute}
    kernel = list(attrs["kernel_shape"].ints) if "kernel_shape" in attrs else []
    if len(kernel) != 1:
        raise NotIncremental(f"MaxPool kernel {kernel} is not 1-D")
    k = int(kernel[0])
    stride = int(list(attrs["strides"].ints)[0]) if "strides" in attrs else 1
    if "dilations" in attrs and any(int(d) != 1 for d in attrs["dilations"].ints):
        raise NotIncremental("dilated MaxPool")
    if "ceil_mode" in attrs and int(attrs["ceil_mode"].i) != 0:
        raise NotIncremental("MaxPool with ceil_mode")
    auto = attrs["auto_pad"].s.decode() if "auto_pad" in attrs else "NOTSET"
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        n_out = -(-length // stride)
        total = max((n_out - 1) * stride + k - length, 0)
        pad = total // 2 if auto == "SAME_UPPER" else total - total // 2
    elif auto == "VALID":
        pad, n_out = 0, (length - k) // stride + 1
    else:
        pads = list(attrs["pads"].ints) if "pads" in attrs else [0, 0]
        pad = int(pads[0])
        n_out = (length + int(pads[0]) + int(pads[1]) - k) // stride + 1
    if n_out < 1:
        raise NotIncremental("MaxPool output is empty")
    return k, stride, pad, n_out


def build_incremental(model: OnnxModel) -> IncrementalIsm | None:
    """:meth:`IncrementalIsm.build`, or None (with the reason logged) when the model does not qualify."""
    try:
        return IncrementalIsm.build(model)
    except (NotIncremental, ModelError) as exc:
        log.info("incremental ISM not used for %s: %s (full ISM instead)", model.path.name, exc)
        return None
