"""The fast logo renderer draws what logomaker draws (it exists only because it is ~15x faster)."""
from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest

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


def test_ground_truth_grid_is_drawn_once_then_reused_from_memory_and_disk(tmp_path, monkeypatch):
    import evaluator.logos as logos

    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    ms = load_motif_set()
    logos._ground_truth_png.clear()
    first = logos.ground_truth_logos(ms, tmp_path / "a.png")
    assert len(list((tmp_path / "home" / "cache" / "logos").glob("ground_truth-*.png"))) == 1

    def no_drawing(*_args, **_kwargs):
        raise AssertionError("drawn again")

    monkeypatch.setattr(logos, "logo_grid", no_drawing)
    logos._ground_truth_png.clear()  # a fresh process: only the disk cache is left
    again = logos.ground_truth_logos(ms, tmp_path / "b.png")
    assert again.read_bytes() == first.read_bytes() and first.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(AssertionError, match="drawn again"):  # other options are another picture: drawn anew
        logos.ground_truth_logos(ms, tmp_path / "c.png", dpi=72)
