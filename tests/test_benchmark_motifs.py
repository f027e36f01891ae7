"""The motif set and the JASPAR export the whole benchmark stands on."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.errors import MotifbenchError
from benchmark.jaspar import core_vertebrates, core_vertebrates_meme, core_vertebrates_sha256, fetch_matrix
from benchmark.motifs import information_content, load_motif_set, reverse_complement_pwm

#: REFERENCE.md section 1, typed from the paper's table (not from pyjaspar), so the two are checked against each other.
PAPER_TABLE = [
    ("Arid3a", "MA0151.1", 6), ("CEBPB", "MA0466.2", 10), ("FOSL1", "MA0477.1", 11), ("Gabpa", "MA0062.2", 11),
    ("MAFK", "MA0496.1", 15), ("MAX", "MA0058.3", 10), ("MEF2A", "MA0052.3", 12), ("NFYB", "MA0502.1", 15),
    ("SP1", "MA0079.3", 11), ("SRF", "MA0083.3", 16), ("STAT1", "MA0137.3", 11), ("YY1", "MA0095.2", 12),
]

#: sha256 of ../shared/tomtom-reference/JASPAR2016_CORE_vertebrates.meme, the file MEME 5.5.8 read.
MEME_JASPAR2016_SHA256 = "0b00a4de5f95a390871528ff01d135f825dccd56347ee3ddb5b1cd8ff12cc5d7"


def test_class_order_ids_and_widths_match_the_paper():
    ms = load_motif_set()
    assert [(c.tf, c.jaspar_id) for c in ms.classes] == [(t, j) for t, j, _ in PAPER_TABLE]
    assert ms.widths == [w for _, _, w in PAPER_TABLE]
    assert [c.index for c in ms.classes] == list(range(12))


def test_pwms_are_column_normalised_counts_without_pseudocount():
    ms = load_motif_set()
    for c, pwm in zip(ms.classes, ms.pwms):
        counts = fetch_matrix(c.jaspar_id).counts  # (w, 4)
        assert pwm.shape == (4, counts.shape[0])
        np.testing.assert_allclose(pwm.sum(axis=0), 1.0, atol=1e-12)
        np.testing.assert_array_equal(pwm.T, counts / counts.sum(axis=1, keepdims=True))
    # Arid3a column 1 is a pure T in JASPAR: a pseudocount would make it < 1
    assert ms.pwms[0][3, 1] == 1.0


def test_reverse_complement_reverses_positions_and_swaps_bases():
    pwm = np.array([[0.7, 0.1], [0.1, 0.2], [0.1, 0.3], [0.1, 0.4]])  # A,C,G,T x 2 positions
    rc = reverse_complement_pwm(pwm)
    np.testing.assert_array_equal(rc[:, 0], [0.4, 0.3, 0.2, 0.1])  # complement of position 2
    np.testing.assert_array_equal(rc[:, 1], [0.1, 0.1, 0.1, 0.7])  # complement of position 1
    np.testing.assert_array_equal(reverse_complement_pwm(rc), pwm)


def test_generator_entries_interleave_forward_and_reverse():
    ms = load_motif_set()
    entries = ms.generator_entries()
    assert len(entries) == 24
    for k, pwm in enumerate(ms.pwms):
        np.testing.assert_array_equal(entries[2 * k], pwm)
        np.testing.assert_array_equal(entries[2 * k + 1], reverse_complement_pwm(pwm))


def test_information_content_of_pure_and_uniform_columns():
    pwm = np.array([[1.0, 0.25], [0.0, 0.25], [0.0, 0.25], [0.0, 0.25]])
    np.testing.assert_allclose(information_content(pwm), [2.0, 0.0], atol=1e-12)


def test_accepted_ids_fix_the_mef2_slip():
    ms = load_motif_set()
    assert "MA0660.1" in ms.accepted_ids["MEF2A"] and "MA0773.1" in ms.accepted_ids["MEF2A"]
    assert not {"MA0660.1", "MA0773.1"} & set(ms.accepted_ids["STAT1"])
    assert ms.tf_of_accepted_id["MA0601.1"] == "Arid3a"
    # every class accepts its own matrix, and no ID is claimed by two TFs
    all_ids = [i for ids in ms.accepted_ids.values() for i in ids]
    assert len(all_ids) == len(set(all_ids))
    for c in ms.classes:
        assert c.jaspar_id in c.accepted_ids


def test_jaspar_2016_core_vertebrates_is_byte_identical_to_what_meme_read():
    import hashlib

    assert len(core_vertebrates(2016)) == 519
    assert hashlib.sha256(core_vertebrates_meme(2016).encode()).hexdigest() == MEME_JASPAR2016_SHA256
    assert core_vertebrates_sha256(2016) == MEME_JASPAR2016_SHA256


def test_meme_export_of_the_motif_set_round_trips_probabilities():
    ms = load_motif_set()
    text = ms.to_meme()
    assert text.count("MOTIF ") == 12
    block = text.split("MOTIF MA0151.1 Arid3a\n")[1].split("\n\n")[0].splitlines()
    assert block[0].startswith("letter-probability matrix: alength= 4 w= 6 nsites= ")
    rows = np.array([[float(v) for v in line.split()] for line in block[1:]])
    np.testing.assert_allclose(rows, ms.pwms[0].T, atol=5e-7)


def test_unknown_release_is_a_clear_error():
    with pytest.raises(MotifbenchError, match="JASPAR release 1999"):
        core_vertebrates(1999)


def test_jaspar_matrices_can_be_read_from_another_thread_than_the_first_reader():
    """The Space reads JASPAR in request threads after its main thread did (SQLite handles are per thread)."""
    import threading

    from benchmark import jaspar

    jaspar.close_connections()
    jaspar.core_vertebrates.cache_clear()
    jaspar.fetch_matrix.cache_clear()
    jaspar.fetch_matrix("MA0058.1", 2016)  # not in the CORE set (an older version): this thread opens a handle
    found: list = []

    def read() -> None:
        try:
            found.append(len(jaspar.core_vertebrates(2016)))
            found.append(jaspar.fetch_matrix("MA0058.2", 2016).matrix_id)  # pyjaspar again, from this thread
        except Exception as exc:  # noqa: BLE001 - the failure is the finding
            found.append(repr(exc))

    worker = threading.Thread(target=read)
    worker.start()
    worker.join()
    assert found == [519, "MA0058.2"]


def test_core_vertebrates_come_from_pyjaspar_once_then_from_the_data_home(tmp_path, monkeypatch):
    """A fresh process reads the 519 matrices from the data home's copy: the same IDs, names and counts."""
    from benchmark import jaspar

    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path))
    jaspar.core_vertebrates.cache_clear()
    jaspar.fetch_matrix.cache_clear()
    first = jaspar.core_vertebrates(2016)
    assert len(list((tmp_path / "cache" / "jaspar").glob("core-vertebrates-2016-*.npz"))) == 1

    def no_database(release):
        raise AssertionError("pyjaspar queried")

    monkeypatch.setattr(jaspar, "_db", no_database)
    jaspar.core_vertebrates.cache_clear()  # a fresh process: only the data home's copy is left
    jaspar.fetch_matrix.cache_clear()
    jaspar.core_vertebrates_meme.cache_clear()
    jaspar.core_vertebrates_sha256.cache_clear()
    again = jaspar.core_vertebrates(2016)
    assert [(m.matrix_id, m.name) for m in again] == [(m.matrix_id, m.name) for m in first]
    assert all(a.counts.dtype == b.counts.dtype and np.array_equal(a.counts, b.counts) for a, b in zip(first, again))
    assert jaspar.core_vertebrates_sha256(2016) == MEME_JASPAR2016_SHA256
    assert np.array_equal(jaspar.fetch_matrix("MA0058.3", 2016).counts, first[[m.matrix_id for m in first]
                                                                               .index("MA0058.3")].counts)
    with pytest.raises(AssertionError, match="pyjaspar queried"):  # a matrix outside the set still asks pyjaspar
        jaspar.fetch_matrix("MA0058.1", 2016)
    jaspar.core_vertebrates.cache_clear()
    jaspar.fetch_matrix.cache_clear()
    jaspar.core_vertebrates_meme.cache_clear()
    jaspar.core_vertebrates_sha256.cache_clear()
