"""Import the heavy libraries a later stage needs in a background thread, while the first stages run.

A fresh ``motifbench evaluate`` spends seconds importing torch (gradient
attribution) and matplotlib (its examples picture) just before it uses them.
Started once the model is loaded, the imports overlap with inference, PPMs,
Tomtom and ISM, which run in NumPy, numba and ONNX Runtime code that releases
the GIL. (Not earlier: an import holds the GIL, and loading the split, the
JASPAR reference and the model is Python-heavy work on the main thread that an
import beside it only slows down.) Importing changes no number; a stage that
gets there first simply waits on Python's per-module import lock.
Already-imported modules cost nothing.
"""
from __future__ import annotations

import importlib
import logging
import sys
import threading

log = logging.getLogger(__name__)


def preload(modules: list[str]) -> threading.Thread | None:
    """Import ``modules`` (in order) in a daemon thread; None when all are imported already.

    An entry ``"package.module:function"`` imports the module and then calls ``function()``
    (an importer that does more than ``import``, e.g. :func:`evaluator.onnx_to_torch.import_onnx2torch`),
    unless the module was imported already.
    """
    missing = [m for m in modules if m.split(":")[0] not in sys.modules]
    if not missing:
        return None

    def run() -> None:
        for entry in missing:
            name, _, function = entry.partition(":")
            try:
                module = importlib.import_module(name)
                if function:
                    getattr(module, function)()
            except Exception as exc:  # the stage that needs it imports it again and reports the error
                log.debug("preloading %s failed: %s", entry, exc)

    thread = threading.Thread(target=run, name="preload", daemon=True)
    thread.start()
    return thread


def evaluation_modules(gradient_attribution: bool, logos: bool) -> list[str]:
    """What an evaluation with these parts will import late, in the order its stages need them.

    ``logos``: pictures are written. SciPy's sparse matrices come first: the PPM stage, right
    after inference, sums its windows with them. Gradient attribution needs torch and onnx2torch
    (the ONNX graph is converted to torch). The logos need Pillow only
    (:mod:`evaluator.logo_raster`); matplotlib is for the gradient attribution's examples picture
    (and the ground-truth grid, when it is not in the data home's cache yet); jsonschema checks the
    record at the end.
    """
    out = ["scipy.sparse"]
    if gradient_attribution:
        out += ["torch", "evaluator.onnx_to_torch:import_onnx2torch"]
    if logos and gradient_attribution:
        out += ["matplotlib.figure", "matplotlib.backends.backend_agg"]
    if logos:
        out += ["PIL.Image", "PIL.ImageFont", "PIL.ImageDraw"]
    return out + ["jsonschema"]
