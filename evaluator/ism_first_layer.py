"""ISM mutants' first-layer columns from the reference's pre-activation plus one weight column.

A substitution at position ``i`` (reference base ``r``, new base ``a``) changes
the first conv's pre-activation only at tap positions ``t = i + pad - w + 1 + k``
(``k = 0 .. w - 1``), each by ``W[:, a, w - 1 - k] - W[:, r, w - 1 - k]``
(``W[:, r]`` is 0 at an ``N`` column, so ``a`` then just adds its column). So
the mutant's pre-activation there is one addition away from the reference's,
instead of a ``4 w``-term dot product per value (:class:`FirstLayerDelta`).
The differences are a fixed table per (reference base, alternative).

The element-wise ops between the conv and the tap (ReLU, exp, BN, ...) then
run in ONNX Runtime. When every one of them is non-decreasing (:data:`MONOTONE_OPS`),
``max(act(v)) == act(max(v))`` exactly (the max picks one of the values), so
the max-pool runs on pre-activations and the ops run on the pooled values
only: ``F`` values per changed pooled column instead of ``F x w`` per mutant.
"""
from __future__ import annotations

import numpy as np

from evaluator.ism_graph import NotIncremental, conv_weights, subgraph

#: Element-wise ops that never decrease when their input increases (any attributes ONNX allows for them here).
MONOTONE_OPS = frozenset({"Relu", "Exp", "Sigmoid", "Tanh", "Softplus", "Identity", "Erf", "Softsign"})


class FirstLayerDelta:
    """The first conv's pre-activation for the reference, and each mutant's changed columns from it.

    pre : ONNX Runtime session, input -> first conv's output. act : session, conv output -> tap (None: the
    tap is the conv's output). weight : ndarray, shape (F, 4, w). monotone : every op in ``act`` is in
    :data:`MONOTONE_OPS` (pool pre-activations, then apply ``act`` to the pooled values).
    """

    def __init__(self, pre, act, weight: np.ndarray, monotone: bool):
        self.pre = pre
        self.act = act
        self.monotone = monotone or act is None
        f, _, w = weight.shape
        self.width = w
        cols = np.concatenate([weight[:, :, ::-1].transpose(1, 2, 0),  # [c, k, f] = W[f, c, w - 1 - k]
                               np.zeros((1, w, f), np.float32)])  # code 4: an N column adds nothing
        # [code, j, k, f]: new-minus-old column for alternative j of a column coded `code` (4 = N, read as A)
        table = np.stack([np.stack([cols[((code if code < 4 else 0) + j) % 4] - cols[code]
                                    for j in range(1, 4)]) for code in range(5)]).astype(np.float32)
        self.table_kj = np.ascontiguousarray(table.transpose(2, 1, 0, 3))  # [k, j, code, f]

    @staticmethod
    def codes(x: np.ndarray) -> np.ndarray | None:
        """Per column the base (0-3) or 4 for an all-zero (``N``) column, shape (S, L); None unless x is one-hot/N."""
        ones = x.sum(axis=1)
        if not (np.all((x == 0) | (x == 1)) and np.all(ones <= 1)):
            return None
        return np.where(ones == 0, 4, x.argmax(axis=1))

    def reference(self, x: np.ndarray) -> np.ndarray:
        """The first conv's output (pre-activation), shape (S, F, L), for x : shape (S, 4, L)."""
        return self.pre.run(None, {self.pre.get_inputs()[0].name: x})[0]

    def act_values(self, values: np.ndarray) -> np.ndarray:
        """The tap's element-wise ops on first-conv outputs, shape (M, F, n) -> (M, F, n)."""
        return values if self.act is None else self.act.run(None, {self.act.get_inputs()[0].name: values})[0]

    def windows(self, pre: np.ndarray, codes: np.ndarray, pad: int) -> np.ndarray:
        """Every mutant's pre-activation at tap positions ``i + pad - w + 1 + k``, shape (w, 3, L, b, F).

        pre : shape (b, F, L), the reference pre-activation. codes : shape (b, L) from :meth:`codes`.
        Alternative ``j`` of position ``i`` is base ``(ref + j + 1) % 4`` (ref = 0 at an N). Columns outside
        ``[0, L)`` hold meaningless values (no pooled window reads them). ``[k, j, i]`` is a contiguous
        ``(b, F)`` block: the max-pool reads runs of positions per ``k``.
        """
        b, f, length = pre.shape
        w = self.width
        padded = np.zeros((length + 2 * (w - 1), b, f), np.float32)
        padded[w - 1:w - 1 + length] = pre.transpose(2, 0, 1)
        s0, s1, s2 = padded.strides
        ref_win = np.lib.stride_tricks.as_strided(padded[pad:], (w, length, b, f), (s0, s0, s1, s2),
                                                  writeable=False)  # [k, i] = tap position i + pad - w + 1 + k
        out = np.empty((w, 3, length, b, f), np.float32)
        rows = codes.T
        for k in range(w):  # a gather of (L, b) rows of F values per (k, j): faster than one 5-D gather
            for j in range(3):
                np.add(self.table_kj[k, j][rows], ref_win[k], out=out[k, j])
        return out

    def windows_act(self, windows: np.ndarray) -> np.ndarray:
        """:meth:`act_values` on windows of shape (..., F)."""
        if self.act is None:
            return windows
        return self.act_values(windows.reshape(-1, windows.shape[-1], 1)).reshape(windows.shape)


def build_first_layer(proto, conv, path: tuple[str, ...], tap_name: str, input_name: str, options,
                      providers) -> FirstLayerDelta:
    """The :class:`FirstLayerDelta` of the first conv; :class:`NotIncremental` when its weights are not constants."""
    import onnxruntime as ort

    weight, _ = conv_weights(proto, conv)
    if weight.shape[1] != 4:
        raise NotIncremental(f"first conv weight has shape {weight.shape}, not (F, 4, w)")
    conv_out = conv.output[0]
    pre = subgraph(proto, [input_name], [conv_out], dynamic_length=True)
    act = None if tap_name == conv_out else subgraph(proto, [conv_out], [tap_name], dynamic_length=True,
                                                       start="the first conv")
    try:
        pre_s = ort.InferenceSession(pre.SerializeToString(), sess_options=options, providers=providers)
        act_s = None if act is None else ort.InferenceSession(act.SerializeToString(), sess_options=options,
                                                              providers=providers)
    except Exception as exc:
        raise NotIncremental(f"ONNX Runtime cannot run the first conv and its activation apart: {exc}") from exc
    return FirstLayerDelta(pre_s, act_s, weight, all(op in MONOTONE_OPS for op in path[1:]))
