"""evaluator.meme_io: MEME minimal format round trip and clear errors on malformed input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.errors import MotifbenchError
from evaluator.meme_io import MemeFormatError, MemeMotif, read_meme, read_meme_background, write_meme

DATA = Path(__file__).parent / "data" / "tomtom"
HEADER = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n"
GOOD = HEADER + (
    "MOTIF m1 NAME1\nletter-probability matrix: alength= 4 w= 2 nsites= 12 E= 0\n"
    " 1.0 0.0 0.0 0.0\n 0.1 0.2 0.3 0.4\n\n"
    "MOTIF m2\nletter-probability matrix: alength= 4 w= 1\n 0.25 0.25 0.25 0.25\n"
)


def test_reads_ids_names_nsites_and_matrices():
    motifs = read_meme(GOOD)
    assert [m.id for m in motifs] == ["m1", "m2"]
    assert [m.name for m in motifs] == ["NAME1", ""]
    assert motifs[0].nsites == 12 and motifs[1].nsites is None
    assert motifs[0].ppm.shape == (2, 4) and motifs[0].ppm.dtype == np.float64
    np.testing.assert_array_equal(motifs[0].ppm[1], [0.1, 0.2, 0.3, 0.4])
    assert read_meme_background(GOOD) == (0.25, 0.25, 0.25, 0.25)


def test_reads_reference_query_file_and_round_trips(tmp_path):
    motifs = read_meme(DATA / "gt.meme")
    assert len(motifs) == 48 and motifs[0].id == "gt_MA0151.1" and motifs[0].nsites == 27
    path = tmp_path / "out.meme"
    text = write_meme(motifs, path)
    assert path.read_text() == text
    again = read_meme(path)
    assert [m.id for m in again] == [m.id for m in motifs]
    for a, b in zip(motifs, again):
        np.testing.assert_allclose(a.ppm, b.ppm, atol=5e-7)
        assert a.nsites == b.nsites


@pytest.mark.parametrize(
    "text, message",
    [
        (HEADER + "MOTIF a\nletter-probability matrix: alength= 4 w= 3\n 1 0 0 0\n 0 1 0 0\n", "ends after 2 rows"),
        (HEADER + "MOTIF a\nletter-probability matrix: alength= 4 w= 3\n 1 0 0 0\n\nMOTIF b\n", "has only 1 rows"),
        (HEADER + "MOTIF a\nletter-probability matrix: alength= 4 w= 1\n 1 0 x 0\n", ":12: expected a number, got 'x'"),
        (HEADER + "MOTIF a\nletter-probability matrix: alength= 4 w= 1\n 0.5 0.5 0\n", ":12: expected 4 probabilities"),
        (HEADER + "MOTIF a\nletter-probability matrix: alength= 4 w= 1\n 1.5 -0.5 0 0\n", "negative probability"),
        (HEADER + "MOTIF a\nletter-probability matrix: alength= 4 nsites= 3\n 1 0 0 0\n", ":11: letter-probability matrix without w="),
        (HEADER + "MOTIF a\nletter-probability matrix: alength= 20 w= 1\n", "alength= must be 4"),
        ("MEME version 4\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n", ":2: only the DNA alphabet ACGT"),
        (HEADER, "no motifs found"),
        (HEADER + "MOTIF\n", ":10: MOTIF line without an identifier"),
        (HEADER + "MOTIF a\nMOTIF b\n", ":10: motif 'a' has no letter-probability matrix"),
        (HEADER + "letter-probability matrix: alength= 4 w= 1\n 1 0 0 0\n", "before any MOTIF line"),
        (GOOD + "MOTIF m1\nletter-probability matrix: alength= 4 w= 1\n 1 0 0 0\n", "duplicate motif identifier 'm1'"),
        ("MEME version 4\nBackground letter frequencies\nA 0.3 C 0.2\n\nMOTIF a\n", "background must give"),
        (HEADER + "MOTIF a\nletter-probability matrix: alength= 4 w= 1\n 0 0 0 0\n", "sums to zero"),
    ],
)
def test_malformed_input_names_the_problem(text, message):
    with pytest.raises(MemeFormatError, match=message.replace("(", r"\(")) as info:
        read_meme(text)
    assert isinstance(info.value, MotifbenchError)
    assert "<text>" in str(info.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(MemeFormatError, match="not found"):
        read_meme(tmp_path / "nope.meme")
    binary = tmp_path / "x.meme"
    binary.write_bytes(b"\xff\xfe\x00MEME")
    with pytest.raises(MemeFormatError, match="not a text MEME motif file"):
        read_meme(binary)


def test_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.meme"
    path.write_text(HEADER + "MOTIF a\nletter-probability matrix: alength= 4 w= 1\n 1 0 0\n")
    with pytest.raises(MemeFormatError, match=rf"{path}:12:"):
        read_meme(path)


def test_write_meme_rejects_bad_shapes_and_ids():
    with pytest.raises(MotifbenchError, match="shape"):
        write_meme([MemeMotif("a", "", np.ones((3, 5)))])
    with pytest.raises(MotifbenchError, match="without spaces"):
        write_meme([MemeMotif("a b", "", np.full((1, 4), 0.25))])


def test_as_written_is_what_a_written_file_reads_back():
    from evaluator.meme_io import as_written

    rng = np.random.default_rng(3)
    values = np.concatenate([rng.random(4000), np.arange(1, 4097) / 4096,  # exact binary half-way cases
                             (np.arange(0, 20001) + 0.5) / 2e6, rng.integers(0, 97, 4000) / 97, [0.0, 1.0]])
    ppm = values[: values.size // 4 * 4].reshape(-1, 4)
    back = read_meme(write_meme([MemeMotif("m", "", ppm)]))[0].ppm
    got = as_written(ppm)
    assert got.shape == ppm.shape
    np.testing.assert_array_equal(got.view(np.int64), back.view(np.int64))  # bit for bit
    assert not np.array_equal(got, ppm)
