"""In silico mutagenesis that recomputes only what a substitution changes.

A single-base change at position ``i`` changes the first-layer outputs only
at the ``w`` positions whose window (filter width ``w``) covers ``i``. So,
when a model's first layer is found and is the single path from the input
to the output, ISM can

1. compute each mutant's first layer only at those ``w`` positions: from the
   reference's pre-activation plus one weight column per position
   (:mod:`evaluator.ism_first_layer`; when the first conv's weights are stored
   constants and the input is one-hot/N), else by running a ``2w - 1`` crop
   around the substitution through the first layer with the conv unpadded (it
   computes just the ``w`` changed columns, bit for bit the padded head's);
2. when the tap feeds a max-pool (every zoo model), update only the pooled
   positions whose windows meet the changed ``w`` positions (a max is exact;
   for a non-decreasing activation the max is taken on pre-activations and
   the activation applied to the pooled values only);
3. skip every mutant that moves no pooled value (its delta is exactly 0: its
   logits are the reference's), and run the tail (pooled tensor -> ISM
   output) on the others (:mod:`evaluator.ism_tail`): when the pooled tensor
   feeds one stride-1 Conv, that conv is the reference's output plus the
   change of the one or two pooled columns the mutant moves (one matrix
   product, run by ONNX Runtime in front of the rest of the tail), else the
   whole tail runs on the updated pooled tensors.

The numbers are full ISM's up to float rounding (sums associated differently:
the largest difference on the bundled baselines is about 2e-5 logit units,
measured by ``perf/ism_speed.py``, tested to ``rtol 1e-6, atol 1e-5`` on every
bundled baseline): :meth:`IncrementalIsm.build` checks this on a probe before
it is used, and :func:`evaluator.attribution.ism_delta` falls back to full ISM
whenever the conditions fail (the reason is logged). With :data:`SHORTCUTS`
off, the first layer (crops) and the whole tail run in ONNX Runtime: full
ISM's numbers bit for bit on the zoo. On CNN-25 (30 x 19 first layer, 200 bp,
pool 25, then conv 128 x 30 x 5) a mutant costs about 570
additions in the first layer instead of 456k multiply-adds, 9% of mutants skip
the tail, and the tail's conv costs 46-76 multiply-adds per output value
instead of 150; the dense layers after it (131k multiply-adds per mutant,
ONNX Runtime) are most of what is left.
"""

from __future__ import annotations

import logging

import numpy as np

from evaluator.ism_graph import NotIncremental, conv_geometry, pool_geometry, subgraph, unpadded, users
from evaluator.ism_first_layer import FirstLayerDelta, build_first_layer
from evaluator.ism_tail import build_tail
from evaluator.onnx_model import ModelError, OnnxModel, load_onnx, session_options
from evaluator.ppm import single_threaded_blas

__all__ = ["ELEMENTWISE_OPS", "PROBE_TOLERANCE", "FirstLayerDelta", "IncrementalIsm", "NotIncremental",
           "build_incremental"]

log = logging.getLogger(__name__)

#: Ops allowed between the first Conv and the tap: element-wise, position by position.
ELEMENTWISE_OPS = frozenset({
    "Relu", "Exp", "Sigmoid", "Tanh", "Softplus", "Elu", "Selu", "LeakyRelu", "PRelu", "HardSigmoid",
    "Gelu", "Erf", "Mul", "Add", "Sub", "Div", "BatchNormalization", "Identity", "Clip", "Abs", "Neg",
    "Sqrt", "Pow", "Softsign", "ThresholdedRelu", "Celu", "Mish", "HardSwish",
})
#: Largest |incremental - full| logit difference accepted on the probe.
PROBE_TOLERANCE = 1e-3
#: Use the first-layer delta and the conv-delta tail where they apply (sums associated differently from
#: the unsplit model's: deltas within ~2e-5 of full ISM on the zoo). False runs every mutant's crop through
#: the first layer and its pooled tensor through the whole tail in ONNX Runtime, which on the zoo gives
#: full ISM's numbers bit for bit (tested), about 3x slower.
SHORTCUTS = True


class IncrementalIsm:
    """First layer, max-pool geometry and tail of a model split at its first-layer tap (see the module docstring).

    Build with :meth:`build`, which raises :class:`NotIncremental` when the model does not qualify.
    ``first`` is the :class:`FirstLayerDelta` (None: each mutant's ``2w - 1`` crop runs through
    ``crop_head``, or ``head`` when the unpadded crop head could not be built); ``tail`` is an
    :mod:`evaluator.ism_tail` runner.
    """

    def __init__(self, model: OnnxModel, head, tail, width: int, pad_left: int, out_name: str,
                 pool: tuple[int, int, int, int], crop_head=None, first: FirstLayerDelta | None = None):
        self.model = model
        self.head = head
        self.crop_head = crop_head  # the head with its conv unpadded: a (2w - 1)-wide crop -> the w columns used
        self.first = first
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
        width, pad_left = conv_geometry(convs[0])
        readers = users(proto, tap.name)
        if len(readers) != 1 or readers[0].op_type != "MaxPool":
            raise NotIncremental("the tap does not feed exactly one MaxPool (nothing to skip after it)")
        pool = pool_geometry(readers[0], model.length)
        out_name = model.ism_output["output_name"]
        head = subgraph(proto, [model.input_name], [tap.name], dynamic_length=True)
        options = session_options(int(model.info.extra.get("threads", 1)))
        providers = model.session.get_providers()
        try:
            head_s = ort.InferenceSession(head.SerializeToString(), sess_options=options, providers=providers)
        except Exception as exc:  # ONNX Runtime refuses the split graph
            raise NotIncremental(f"ONNX Runtime cannot run the split model: {exc}") from exc
        tail = build_tail(proto, readers[0].output[0], out_name, options, providers, shortcut=SHORTCUTS)
        first = crop_s = None
        try:
            if SHORTCUTS:
                first = build_first_layer(proto, convs[0], tuple(tap.path), tap.name, model.input_name, options,
                                          providers)
        except NotIncremental as exc:  # each mutant's crop runs through the first layer instead
            log.info("first-layer delta not used for %s: %s", model.path.name, exc)
        try:  # for inputs that are not one-hot (or N): each mutant's crop through the first layer
            crop_s = ort.InferenceSession(unpadded(head, model.input_name).SerializeToString(), sess_options=options,
                                          providers=providers)
        except Exception as exc:  # keep the padded head on the crop (twice the columns, the same numbers)
            log.info("unpadded crop head not used for %s: %s", model.path.name, exc)
        inc = cls(model, head_s, tail, width, pad_left, out_name, pool, crop_s, first)
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

    def _to_logits(self, out: np.ndarray, eps: float) -> np.ndarray:
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

    def _crop_windows(self, xp: np.ndarray, ref: np.ndarray, alts: np.ndarray) -> np.ndarray:
        """Every mutant's tap columns from its ``2w - 1`` crop, shape (w, 3, L, b, F) (a view).

        xp : shape (b, 4, L + 2w - 2), the sequences with ``w - 1`` zero columns each side.
        ref, alts : shapes (b, L), (b, L, 3).
        """
        b, length = ref.shape
        w = self.width
        # crop for position i: c[t] = x[i - w + 1 + t], t in [0, 2w - 1), zeros outside the sequence
        crops = np.lib.stride_tricks.sliding_window_view(xp, 2 * w - 1, axis=2)  # (b, 4, L, 2w-1)
        crops = np.repeat(crops.transpose(0, 2, 1, 3)[:, :, None], 3, axis=2).copy()  # (b, L, 3, 4, 2w-1)
        crops[:, :, :, :, w - 1] = 0.0
        bi, li, ji = np.meshgrid(np.arange(b), np.arange(length), np.arange(3), indexing="ij")
        crops[bi, li, ji, alts, w - 1] = 1.0
        win = self._crop_taps(crops.reshape(-1, 4, 2 * w - 1))
        return win.reshape(b, length, 3, -1, w).transpose(4, 2, 1, 0, 3)  # [k] = tap position i + pad - w + 1 + k

    def _pool_windows(self) -> list[tuple[int, int]]:
        """Each pooled position's tap range [a, b] (padding excluded)."""
        k, stride, pad, n_out = self.pool
        length = self.model.length
        return [(max(0, p * stride - pad), min(length - 1, p * stride - pad + k - 1)) for p in range(n_out)]

    def _changed_columns(self, ref_taps: np.ndarray, win: np.ndarray):
        """Each pooled column's new values for the mutants that can change it.

        ref_taps : shape (L, b, F). win : shape (w, 3, L, b, F), every mutant's changed tap columns (both
        may be pre-activations instead, for a non-decreasing activation: the max is taken before it).
        Yields ``(p, lo, hi, best)``: the positions ``lo .. hi`` whose changed tap range meets pooled
        column ``p``'s window, and their mutants' max over that window, shape (3, hi - lo + 1, b, F).
        """
        length = ref_taps.shape[0]
        w, pad = self.width, self.pad_left
        for p, (a, e) in enumerate(self._pool_windows()):
            # positions whose changed range [i + pad - w + 1, i + pad] meets [a, e]
            lo_i, hi_i = max(0, a - pad), min(length - 1, e - pad + w - 1)
            if lo_i > hi_i:
                continue
            ii = np.arange(lo_i, hi_i + 1)
            seg = ref_taps[a:e + 1]  # (e - a + 1, b, F)
            best = np.full((3, ii.size) + seg.shape[1:], -np.inf, np.float32)
            o1 = ii + pad - w + 1  # first changed tap position of each i (increasing)
            left = o1 - 1 - a  # unchanged ref positions a .. o1 - 1 (when left >= 0)
            sl = slice(int(np.searchsorted(left, 0)), ii.size)
            if sl.start < sl.stop:
                before = np.maximum.accumulate(seg, axis=0)  # max of ref over [a, t]
                np.maximum(best[:, sl], before[left[sl]], out=best[:, sl])
            right = o1 + w - a  # unchanged ref positions o2 + 1 .. e (when right <= e - a)
            sl = slice(0, int(np.searchsorted(right, e - a, side="right")))
            if sl.start < sl.stop:
                after = np.maximum.accumulate(seg[::-1], axis=0)[::-1]  # max over [t, e]
                np.maximum(best[:, sl], after[right[sl]], out=best[:, sl])
            for k in range(w):  # tap position o1 + k, inside [a, e] for a contiguous run of i
                first = int(np.searchsorted(o1 + k, a))
                last = int(np.searchsorted(o1 + k, e, side="right"))
                if first < last:
                    part = best[:, first:last]
                    np.maximum(part, win[k, :, lo_i + first:lo_i + last], out=part)
            yield p, lo_i, hi_i, best

    def delta(self, x: np.ndarray, classes: np.ndarray, batch_mutants: int = 4800, eps: float = 1e-6) -> np.ndarray:
        """Mutant-minus-reference logit map, as :func:`evaluator.attribution.ism_delta` returns it.

        x : ndarray, shape (S, 4, L), float32 one-hot. classes : ndarray, shape (S,).
        Returns float64, shape (S, 4, L), 0 at each reference base (and exactly 0 for a mutant that
        changes no pooled value: its logits are the reference's). ``batch_mutants`` sets how many
        sequences' mutants are built at once (the numbers do not depend on it; tested).
        """
        s, _, length = x.shape
        w = self.width
        x = np.ascontiguousarray(x, np.float32)
        codes = None if self.first is None else FirstLayerDelta.codes(x)
        windows_p = self._pool_windows()
        if codes is not None:  # pre-activation + one weight column per changed tap
            first = self.first
            ref_pre = first.reference(x)  # (S, F, L)
            ref_taps = ref_pre if first.monotone else first.act_values(ref_pre)  # (S, F, L)
            pooled = np.stack([ref_taps[:, :, a:b + 1].max(axis=2) for a, b in windows_p], axis=2)  # (S, F, P)
            ref_pooled = first.act_values(pooled) if first.monotone else pooled
        else:  # each mutant's crop through the first layer
            ref_taps = self.head.run(None, {self.head.get_inputs()[0].name: x})[0]  # (S, F, L)
            ref_pooled = np.stack([ref_taps[:, :, a:b + 1].max(axis=2) for a, b in windows_p], axis=2)
            xp = np.zeros((s, 4, length + 2 * (w - 1)), np.float32)
            xp[:, :, w - 1:w - 1 + length] = x
        ref_out, state = self.tail.reference(ref_pooled)
        ref_logits = self._to_logits(ref_out, eps)[np.arange(s), classes]
        ref = x.argmax(axis=1)
        delta = np.zeros((s, 4, length), np.float64)
        positions = np.arange(length)
        step = max(1, batch_mutants // (3 * length))
        with single_threaded_blas():  # small matrix products: a second BLAS thread only spins (see ppm.py)
            for start in range(0, s, step):
                seqs = np.arange(start, min(s, start + step))
                b = seqs.size
                alts = (ref[seqs][:, :, None] + np.arange(1, 4)) % 4  # (b, L, 3)
                if codes is None:
                    win = self._crop_windows(xp[seqs], ref[seqs], alts)
                elif self.first.monotone:
                    win = self.first.windows(ref_pre[seqs], codes[seqs], self.pad_left)
                else:
                    win = self.first.windows_act(self.first.windows(ref_pre[seqs], codes[seqs], self.pad_left))
                changed = np.zeros((3, length, b), bool)
                columns = []
                taps_t = np.ascontiguousarray(ref_taps[seqs].transpose(2, 0, 1))  # (L, b, F)
                for p, lo, hi, best in self._changed_columns(taps_t, win):
                    if codes is not None and self.first.monotone and self.first.act is not None:
                        best = self.first.windows_act(best)
                    changed[:, lo:hi + 1] |= (best != ref_pooled[seqs][:, :, p]).any(axis=3)
                    columns.append((p, lo, hi, best))
                changed = changed.transpose(2, 1, 0)  # (b, L, 3)
                if not changed.any():  # every delta of these sequences is 0
                    continue
                out = self.tail.mutants(state, seqs, length, columns, changed)  # rows of unchanged mutants: 0
                logits = self._to_logits(out, eps).reshape(b, length, 3, -1)
                chosen = np.take_along_axis(logits, classes[seqs][:, None, None, None], axis=3)[..., 0]
                chosen = np.where(changed, chosen - ref_logits[seqs][:, None, None], 0.0)
                delta[seqs[:, None, None], alts, positions[None, :, None]] = chosen
        return delta


def build_incremental(model: OnnxModel) -> IncrementalIsm | None:
    """:meth:`IncrementalIsm.build`, or None (with the reason logged) when the model does not qualify."""
    try:
        return IncrementalIsm.build(model)
    except (NotIncremental, ModelError) as exc:
        log.info("incremental ISM not used for %s: %s (full ISM instead)", model.path.name, exc)
        return None
    except Exception as exc:  # a graph the split or its probe cannot handle: full ISM is always right
        log.warning("incremental ISM not used for %s: building or probing the split failed (%s: %s); "
                    "full ISM instead", model.path.name, type(exc).__name__, exc)
        return None
