"""Cascading model randomisation (Adebayo et al. 2018): does an attribution method read the model?

The weight layers of the graph (initializers feeding Conv, ConvTranspose,
MatMul or Gemm, plus their biases), in graph order, are re-initialised **from
the top layer down**: step ``j`` replaces the last ``j`` layers' weights by
Gaussian draws with each tensor's own standard deviation (biases by zeros),
seeded. The randomised graph is converted and checked like the original
(:func:`evaluator.onnx_to_torch.convert_model`), maps are recomputed on the
same sequences, and the class-specific AUROC is reported per step. A method
whose score survives randomising every layer is not explaining the model.

Randomising the ONNX graph (rather than the converted module's tensors)
keeps one definition for every converter path and lets ISM be checked the
same way.
"""
from __future__ import annotations

import numpy as np

WEIGHT_OPS = {"Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "MatMul": (0, 1)}


def weight_layers(model) -> list[tuple[str, ...]]:
    """Initializer names per weight layer, in graph order (``onnx.ModelProto`` -> list of name tuples)."""
    inits = {i.name for i in model.graph.initializer}
    layers = []
    for node in model.graph.node:
        if node.op_type in WEIGHT_OPS:
            names = tuple(node.input[i] for i in WEIGHT_OPS[node.op_type]
                          if i < len(node.input) and node.input[i] in inits)
            if names:
                layers.append(names)
    return layers


def randomise_top(model, n_layers: int, seed: int = 0):
    """A copy of ``model`` with the top ``n_layers`` weight layers re-initialised (see module docstring)."""
    import onnx
    from onnx import numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    layers = weight_layers(out)
    chosen = {name for layer in layers[len(layers) - n_layers:] for name in layer} if n_layers else set()
    rng = np.random.default_rng(seed)
    for init in out.graph.initializer:
        if init.name in chosen:
            w = numpy_helper.to_array(init)
            if w.ndim >= 2:
                new = rng.normal(0.0, float(w.std()) or 0.05, size=w.shape)
            else:
                new = np.zeros(w.shape)
            init.CopyFrom(numpy_helper.from_array(new.astype(w.dtype), init.name))
    return out


def cascade_steps(n_layers: int, max_steps: int = 4) -> list[int]:
    """How many top layers to randomise at each step: 1, ..., all (at most ``max_steps`` steps, evenly spaced)."""
    if n_layers <= 0:
        return []
    steps = np.unique(np.round(np.linspace(1, n_layers, min(max_steps, n_layers))).astype(int))
    return [int(s) for s in steps]


def cascading_randomisation(path, length: int, x: np.ndarray, classes: np.ndarray, masks, methods: tuple[str, ...],
                            convert_kwargs: dict, original: dict[str, float], max_steps: int = 4,
                            seed: int = 0) -> dict:
    """Class-specific AUROC per method after randomising the top 1..all weight layers.

    path : the ONNX file. x : ndarray, shape (S, 4, L). classes : int ndarray, shape (S,).
    masks : :class:`evaluator.attribution_score.ClassMasks`. original : method -> AUROC of the trained model.
    Returns a JSON-ready dict with per-step AUROCs and ``drop`` = original - fully randomised per method.
    """
    import tempfile
    from pathlib import Path

    import onnx

    from evaluator.attribution_methods import compute_maps, position_scores
    from evaluator.attribution_score import per_sequence_metrics
    from evaluator.onnx_to_torch import ConversionError, convert_model

    model = onnx.load(str(path))
    layers = weight_layers(model)
    steps = []
    with tempfile.TemporaryDirectory(prefix="motifbench-rand-") as tmp:
        for n in cascade_steps(len(layers), max_steps):
            rpath = Path(tmp) / f"rand{n}.onnx"
            onnx.save(randomise_top(model, n, seed), str(rpath))
            try:
                converted = convert_model(rpath, length, **convert_kwargs)
            except ConversionError as exc:
                steps.append({"layers_randomised": n, "error": str(exc)})
                continue
            try:
                maps = compute_maps(converted.module, x, classes, methods).maps
            except Exception as exc:  # noqa: BLE001 - recorded per step, like a conversion failure
                steps.append({"layers_randomised": n, "error": f"{type(exc).__name__}: {exc}"})
                continue
            aurocs = {}
            for m in methods:
                per = per_sequence_metrics(position_scores(m, maps[m], x), masks, ("auroc",))["auroc"]
                aurocs[m] = float(np.nanmean(per)) if np.isfinite(per).any() and np.isfinite(maps[m]).all() else None
            steps.append({"layers_randomised": n, "auroc": aurocs})
    last = next((s for s in reversed(steps) if "auroc" in s), None)
    drop = {m: (original[m] - last["auroc"][m]) if last and last["auroc"].get(m) is not None
            and original.get(m) is not None else None for m in methods}
    return {"n_weight_layers": len(layers), "seed": seed, "n_sequences": int(len(x)),
            "rule": "top-down; weights ~ N(0, std of the tensor), biases 0", "steps": steps, "drop": drop}
