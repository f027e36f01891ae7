"""The part of a model after its first-layer max-pool, run on ISM mutants' pooled tensors.

Incremental ISM (:mod:`evaluator.ism_incremental`) hands over, per batch of
``b`` sequences, the pooled columns each substitution changes: column ``p``
changes only for the positions ``i`` in a range ``[lo_p, hi_p]``, and there
its new value is ``best_p``, shape ``(3, hi_p - lo_p + 1, b, F)`` (3
alternative bases, ``F`` filters); every other pooled value is the
reference's. Only the mutants flagged ``changed`` are run (the others have the
reference's logits). Two ways to run the rest of the model:

* :class:`PlainTail`: write the changed columns into copies of the reference
  pooled tensor, ``(mutants, F, P)``, and run the whole tail in ONNX Runtime.
* :class:`ConvDeltaTail`, when the pooled tensor feeds exactly one Conv (1-D,
  stride 1, undilated, ungrouped, constant float32 weights, known output
  shape): a convolution is linear, so ``conv(pooled_mut) = conv(pooled_ref) +
  conv(pooled_mut - pooled_ref)``, and the difference is zero outside the one
  or two columns a substitution changes. Positions that change the same
  columns form a group; per group, one matrix product ``[diff_p..., one-hot
  sequence] @ [W_p blocks; reference conv outputs]`` gives the mutants' conv
  outputs (CNN-25: ``K' = 30 + 16`` or ``60 + 16`` terms per value instead of
  the conv's 150), and ONNX Runtime runs it (a MatMul put in front of the
  rest of the tail) with the rest of the model. The sums are associated
  differently from the conv's, so logits agree to float rounding (checked on
  a probe like the rest of incremental ISM).
"""

from __future__ import annotations

import logging

import numpy as np

from evaluator.ism_graph import NotIncremental, conv_geometry, conv_weights, subgraph, users

log = logging.getLogger(__name__)


class PlainTail:
    """The whole tail (pooled tensor -> ISM output) in one ONNX Runtime session."""

    kind = "plain"

    def __init__(self, session):
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def reference(self, ref_pooled: np.ndarray):
        """Reference outputs ``(S, K)`` and the state :meth:`mutants` needs. ref_pooled : shape (S, F, P)."""
        return self._run(ref_pooled), ref_pooled

    def mutants(self, state, seqs: np.ndarray, length: int, columns, changed: np.ndarray) -> np.ndarray:
        """Outputs of the changed mutants of sequences ``seqs``, shape ``(b * L * 3, K)`` (sequence, position, base).

        columns : iterable of ``(p, lo, hi, best)``, ``best`` shape ``(3, hi - lo + 1, b, F)``.
        changed : bool, shape (b, L, 3), the mutants that change a pooled value (at least one); the other rows
            are 0 (not run: their outputs are the reference's).
        """
        ref = state[seqs]  # (b, F, P)
        pooled = np.empty((len(seqs), length, 3) + ref.shape[1:], np.float32)
        pooled[...] = ref[:, None, None]
        for p, lo, hi, best in columns:
            pooled[:, lo:hi + 1, :, :, p] = best.transpose(2, 1, 0, 3)
        got = self._run(pooled[changed])
        out = np.zeros(changed.shape + got.shape[1:], got.dtype)
        out[changed] = got
        return out.reshape(changed.size, -1)

    def _run(self, pooled: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: pooled})[0]


class ConvDeltaTail:
    """The tail's first Conv as reference + per-column difference, one matrix product, in ONNX Runtime.

    head_session : pooled tensor -> conv output (the reference's). rest_session : ``rows (N, K') @ columns
    (K', C * T)``, reshaped to the conv output ``(N, C, T)``, -> ISM output (the tail after the conv, with a
    MatMul in front: :func:`_matmul_in_front`). weight : ndarray, shape (C, F, K). pad_left : the conv's
    left padding.
    """

    kind = "conv-delta"

    def __init__(self, head_session, rest_session, weight: np.ndarray, pad_left: int):
        self.head = head_session
        self.rest = rest_session
        self.rows_name, self.columns_name = (i.name for i in rest_session.get_inputs())
        self.weight = weight
        self.pad_left = pad_left
        self._blocks: dict[tuple[int, int], np.ndarray] = {}

    def reference(self, ref_pooled: np.ndarray):
        """Reference outputs ``(S, K)`` and the state :meth:`mutants` needs: (pooled (S, F, P), conv (S, C, T))."""
        conv = self.head.run(None, {self.head.get_inputs()[0].name: ref_pooled})[0]
        s = len(conv)
        return self._run(np.eye(s, dtype=np.float32), conv.reshape(s, -1)), (ref_pooled, conv)

    def _block(self, p: int, t_out: int) -> np.ndarray:
        """What pooled column ``p`` adds to the flattened conv output, shape (F, C * T)."""
        if (p, t_out) not in self._blocks:
            c, f, k = self.weight.shape
            block = np.zeros((f, c, t_out), np.float32)
            for t in range(t_out):
                tap = p + self.pad_left - t  # output column t reads pooled column t - pad + tap
                if 0 <= tap < k:
                    block[:, :, t] = self.weight[:, :, tap].T
            self._blocks[(p, t_out)] = block.reshape(f, c * t_out)
        return self._blocks[(p, t_out)]

    def mutants(self, state, seqs: np.ndarray, length: int, columns, changed: np.ndarray) -> np.ndarray:
        """As :meth:`PlainTail.mutants`.

        Positions are grouped by the pooled columns they change; per group ONNX Runtime runs
        ``[diff_p1, diff_p2, ..., one-hot sequence] @ [block_p1; block_p2; ...; reference conv]`` (the changed
        mutants' conv outputs, position-major) and the rest of the tail on it.
        """
        ref_pooled, ref_conv = state[0][seqs], state[1][seqs]  # (b, F, P), (b, C, T)
        b = len(seqs)
        t_out = ref_conv.shape[2]
        columns = {p: (lo, hi, best) for p, lo, hi, best in columns}
        which = [tuple(p for p, (lo, hi, _) in columns.items() if lo <= i <= hi) for i in range(length)]
        keep_all = changed.transpose(1, 2, 0)  # (L, 3, b), the order of the rows below
        eye = np.broadcast_to(np.eye(b, dtype=np.float32), (3, b, b))
        outputs = []
        i0 = 0
        while i0 < length:
            i1 = i0 + 1
            while i1 < length and which[i1] == which[i0]:
                i1 += 1
            n = i1 - i0
            keep = keep_all[i0:i1].reshape(-1)
            if keep.any():
                parts = []
                for p in which[i0]:
                    lo, _, best = columns[p]
                    parts.append((best[:, i0 - lo:i1 - lo] - ref_pooled[:, :, p]).transpose(1, 0, 2, 3))  # (n, 3, b, F)
                parts.append(np.broadcast_to(eye, (n, 3, b, b)))
                left = np.concatenate(parts, axis=3).reshape(n * 3 * b, -1)[keep]
                right = np.concatenate([self._block(p, t_out) for p in which[i0]] + [ref_conv.reshape(b, -1)])
                outputs.append(self._run(left, right))
            i0 = i1
        got = np.concatenate(outputs)
        out = np.zeros(keep_all.shape + got.shape[1:], got.dtype)
        out[keep_all] = got
        return np.ascontiguousarray(out.transpose(2, 0, 1, 3)).reshape(changed.size, -1)

    def _run(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        return self.rest.run(None, {self.rows_name: rows, self.columns_name: columns})[0]


def _matmul_in_front(rest, conv_out: str, shape: tuple[int, int]):
    """The tail after the conv (graph input ``conv_out``, shape (N, C, T)) fed by ``rows @ columns`` instead.

    Returns a copy whose inputs are ``rows`` (N, K') and ``columns`` (K', C * T): a MatMul and a Reshape
    to (N, C, T) make ``conv_out``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.ModelProto()
    model.CopyFrom(rest)
    g = model.graph
    taken = {n for node in g.node for n in list(node.input) + list(node.output)} | {i.name for i in g.initializer}
    rows, cols, flat, dims = (_fresh(f"motifbench_ism_{n}", taken) for n in ("rows", "columns", "flat", "shape"))
    c, t_out = shape
    del g.input[:]
    g.input.extend([helper.make_tensor_value_info(rows, TensorProto.FLOAT, ["n", "k"]),
                    helper.make_tensor_value_info(cols, TensorProto.FLOAT, ["k", c * t_out])])
    g.initializer.append(numpy_helper.from_array(np.array([-1, c, t_out], np.int64), dims))
    nodes = list(g.node)
    del g.node[:]
    g.node.extend([helper.make_node("MatMul", [rows, cols], [flat]),
                   helper.make_node("Reshape", [flat, dims], [conv_out])] + nodes)
    return model


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    return name


def build_tail(proto, pooled_name: str, out_name: str, options, providers, shortcut: bool = True):
    """:class:`ConvDeltaTail` when ``shortcut`` and the pooled tensor feeds a Conv it fits, else :class:`PlainTail`.

    Raises :class:`NotIncremental` when ONNX Runtime cannot run even the plain tail.
    """
    import onnxruntime as ort

    if shortcut:
        try:
            return _conv_delta_tail(proto, pooled_name, out_name, options, providers)
        except NotIncremental as exc:
            log.info("tail after the first-layer pool run whole (no conv-delta shortcut): %s", exc)
    tail = subgraph(proto, [pooled_name], [out_name], dynamic_length=False)
    try:
        return PlainTail(ort.InferenceSession(tail.SerializeToString(), sess_options=options, providers=providers))
    except Exception as exc:  # ONNX Runtime refuses the split graph
        raise NotIncremental(f"ONNX Runtime cannot run the split model: {exc}") from exc


def _conv_delta_tail(proto, pooled_name: str, out_name: str, options, providers) -> ConvDeltaTail:
    import onnxruntime as ort

    readers = users(proto, pooled_name)
    if len(readers) != 1 or readers[0].op_type != "Conv" or readers[0].input[0] != pooled_name:
        raise NotIncremental(f"the pooled tensor feeds {[n.op_type for n in readers]}, not exactly one Conv")
    conv = readers[0]
    _, pad_left = conv_geometry(conv)
    weight, _ = conv_weights(proto, conv)
    conv_out = conv.output[0]
    head = subgraph(proto, [pooled_name], [conv_out], dynamic_length=False, start="the pooled tensor")
    rest = subgraph(proto, [conv_out], [out_name], dynamic_length=False, start="the conv after the pool")
    dims = rest.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 3 or not all(d.HasField("dim_value") for d in dims[1:]):
        raise NotIncremental(f"the conv after the pool has output shape {[d.dim_value or d.dim_param for d in dims]}, "
                             "not (N, C, T) with C and T known")
    rest = _matmul_in_front(rest, conv_out, (int(dims[1].dim_value), int(dims[2].dim_value)))
    try:
        head_s = ort.InferenceSession(head.SerializeToString(), sess_options=options, providers=providers)
        rest_s = ort.InferenceSession(rest.SerializeToString(), sess_options=options, providers=providers)
    except Exception as exc:
        raise NotIncremental(f"ONNX Runtime cannot run the tail split at its conv: {exc}") from exc
    return ConvDeltaTail(head_s, rest_s, weight, pad_left)
