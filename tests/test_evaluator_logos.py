"""The fast logo renderer draws what logomaker draws (it exists only because it is ~15x faster)."""
from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np

from benchmark.motifs import load_motif_set
from evaluator.logos import logo_grid


def _render(tmp_path, ppms, engine):
    path = logo_grid(ppms, [f"f{i}" for i in range(len(ppms))], tmp_path / f"{engine}.png", engine=engine)
    return mpimg.imread(path)


def test_fast_engine_matches_logomaker_pixel_for_pixel_within_antialiasing(tmp_path, artifacts_dir):
    ms = load_motif_set()
    ppms = [p.T for p in ms.pwms[:4]] + [np.random.default_rng(0).dirichlet(np.ones(4) * 0.3, size=12)]
    fast = _render(tmp_path, ppms, "fast")
    reference = _render(tmp_path, ppms, "logomaker")
    assert fast.shape == reference.shape
    differing = (np.abs(fast - reference).max(axis=-1) > 0.2).mean()
    assert differing < 0.05, f"{differing:.1%} of pixels differ"
    # the comparison has teeth: a logo drawn mirrored differs far more
    mirrored = _render(tmp_path, [p[::-1, ::-1] for p in ppms], "fast")
    assert (np.abs(mirrored - reference).max(axis=-1) > 0.2).mean() > 3 * differing
    (artifacts_dir / "logos-fast-vs-logomaker.png").write_bytes((tmp_path / "fast.png").read_bytes())
