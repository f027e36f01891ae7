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
