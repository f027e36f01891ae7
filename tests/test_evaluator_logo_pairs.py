"""Each filter above its ground-truth match: aligned as Tomtom aligned them, large enough to read."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.motifs import load_motif_set
from evaluator.logo_pairs import CELL_W, DPI, PAIRS_SUFFIX, aligned_target, caption, filter_match_pairs
from evaluator.meme_io import MemeMotif
from evaluator.recovery import motif_recovery
from evaluator.tomtom import jaspar_targets, tomtom
from space_app.records import png_width


@pytest.fixture(scope="module")
def max_slices():
    """Filters that are pieces of MAX's motif, forward and reverse-complemented, scored by the real Tomtom."""
    ms = load_motif_set()
    target = ms.pwms[ms.index_of("MAX")].T
    queries = {"fwd": target[3:9], "rc": target[1:10][::-1, ::-1],
               "padded": np.vstack([np.full((4, 4), 0.25), target[2:9]])}
    hits = tomtom([MemeMotif(k, "", v, 20) for k, v in queries.items()], jaspar_targets(2016), thresh=0.5,
                  evalue=True)
    return ms, target, queries, hits


def test_aligned_target_puts_each_query_column_on_the_target_column_tomtom_matched(max_slices):
    ms, target, queries, hits = max_slices
    own = hits[hits["Target_ID"] == ms.jaspar_ids[ms.index_of("MAX")]]
    assert set(own["Query_ID"]) == set(queries)
    for row in own.itertuples():
        query = queries[row.Query_ID]
        placed, start = aligned_target(target, {"orientation": row.Orientation, "offset": row.Optimal_offset})
        informative = [i for i in range(len(query)) if query[i].max() > 0.3]
        for i in informative:  # query column i sits at x = i; the target column drawn there must be the same
            assert 0 <= i - start < len(placed)
            np.testing.assert_allclose(placed[i - start], query[i], atol=1e-9)


def test_pairs_figure_is_at_least_1000_px_wide_and_one_cell_per_filter(max_slices, tmp_path, artifacts_dir):
    ms, _, queries, hits = max_slices
    target_names = {m.id: m.name for m in jaspar_targets(2016)}
    ids = list(queries)
    recovery = motif_recovery(hits, ids, ids, ms, target_names)
    path = filter_match_pairs(list(queries.values()), recovery, ms, tmp_path / f"m{PAIRS_SUFFIX}",
                              targets={m.id: m.ppm for m in jaspar_targets(2016)})
    assert png_width(path) == round(3 * CELL_W * DPI) >= 2 * 1214  # 2x the page width of a 1,400 px window
    from PIL import Image

    with Image.open(path) as image:
        assert image.mode == "P" and len(image.getcolors(256) or []) <= 64  # palette PNG: a third of the bytes
    (artifacts_dir / f"logo-pairs-max{PAIRS_SUFFIX}").write_bytes(path.read_bytes())
    lines, truth = caption(recovery["filters"][0])
    assert truth and lines[0].startswith("best Tomtom match: ")


def test_caption_explains_a_ground_truth_match_that_is_not_the_best_hit():
    best = {"target_id": "MA0838.1", "target_name": "CEBPG", "e_value": 1e-9}
    truth = {"target_id": "MA0466.2", "target_name": "CEBPB", "ground_truth_tf": "CEBPB", "e_value": 9e-8}
    lines, is_truth = caption({"tested": True, "best_hit": best, "best_ground_truth_hit": truth})
    assert is_truth and "CEBPG" in lines[0] and "counts as CEBPB" in lines[1] and "MA0466.2" in lines[1]
    assert "accepted list" in lines[2]
    lines, is_truth = caption({"tested": False, "best_hit": None, "best_ground_truth_hit": None})
    assert not is_truth and "uninformative" in lines[0]


def _designed_filters():
    """Two filters whose logos are known: the letters, their order in each column, their heights."""
    ppm = np.array([[0.97, 0.01, 0.01, 0.01],   # A alone, ~1.8 bits
                    [0.50, 0.00, 0.50, 0.00],   # A and G, 0.5 bits each (tie: A below G, the stable order)
                    [0.10, 0.70, 0.00, 0.20],   # A < T < C
                    [0.25, 0.25, 0.25, 0.25],   # nothing
                    [0.01, 0.01, 0.01, 0.97]])  # T alone
    entries = [{"filter": "filter0", "tested": True, "best_hit": None, "best_ground_truth_hit": None},
               {"filter": "filter1", "tested": True, "best_hit": None, "best_ground_truth_hit": None}]
    return [ppm, ppm[::-1, ::-1].copy()], {"filters": entries}


def test_pairs_figure_draws_each_letter_in_its_colour_order_and_height(tmp_path):
    """What a reader sees: the right glyph in the right colour, stacked smallest first, bits to scale."""
    from PIL import Image

    from evaluator.logo_pairs import LOGO_H, draw_pairs
    from evaluator.logo_raster import _glyph_mask
    from evaluator.logos import CLASSIC_COLOURS, information_heights

    ppms, recovery = _designed_filters()
    canvas = draw_pairs(ppms, recovery, load_motif_set())
    drawn = canvas.letters_drawn
    bits_px = LOGO_H * DPI / 2  # pixels per bit
    for k, ppm in enumerate(ppms):  # no match: only the filters' own logos are drawn, in cell order
        heights = information_heights(ppm)
        expected = [("ACGT"[b], heights[i, b]) for i in range(len(ppm)) for b in np.argsort(heights[i], kind="stable")
                    if heights[i, b] * bits_px >= 0.5]
        mine = drawn[:len(expected)]
        drawn = drawn[len(expected):]
        assert [d.letter for d in mine] == [e[0] for e in expected]
        for d, (_, h) in zip(mine, expected):
            assert abs((d.bottom - d.top) - h * bits_px) <= 1.0
            assert d.colour == CLASSIC_COLOURS[d.letter]
        columns = sorted({d.left for d in mine})
        assert len(columns) == 4  # the uniform column draws nothing
        for left in columns:  # stacked: each letter sits on the one below it
            stack = [d for d in mine if d.left == left]
            assert all(upper.bottom == lower.top for lower, upper in zip(stack, stack[1:]))
    assert drawn == []

    path = canvas.save_png(tmp_path / "designed.png")
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    palette = {b: np.array([round(255 * v) for v in CLASSIC_COLOURS[b]]) for b in "ACGT"}
    for d in canvas.letters_drawn:
        if d.bottom - d.top < 20:
            continue
        box = rgb[d.top:d.bottom, d.left:d.right]
        near = {b: (np.abs(box - c).max(axis=-1) < 40).mean() for b, c in palette.items()}
        assert max(near, key=near.get) == d.letter and near[d.letter] > 0.3  # its own colour, and only that
        ink = (np.abs(box - palette[d.letter]).max(axis=-1) < 128).astype(float)
        # its own glyph's shape, not another letter's: the best match of the four DejaVu Sans Bold glyphs
        scores = {b: -np.abs(ink - _glyph_mask(b, d.right - d.left, d.bottom - d.top) / 255).mean() for b in "ACGT"}
        assert max(scores, key=scores.get) == d.letter
    outside = rgb[:, :round(0.25 * DPI)]  # left of the "bits" labels: white, nothing drawn
    assert (outside == 255).all()
