"""``motifbench tomtom`` end to end: MEME's tomtom.tsv from the command line."""
from __future__ import annotations

from pathlib import Path

import pytest

from motifbench.cli import main

DATA = Path(__file__).parent / "data" / "tomtom"


def _body(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_papers_command_reproduces_meme_file(tmp_path):
    out = tmp_path / "res" / "tomtom.tsv"
    code = main(["tomtom", str(DATA / "partial.meme"), "--jaspar", "2016", "--evalue", "--thresh", "0.1",
                 "-o", str(out)])
    assert code == 0
    text = out.read_text()
    assert _body(text) == _body((DATA / "partial__paper_default.tsv").read_text())
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert comments[0].startswith("# Tomtom (Motif Comparison Tool): motifbench")
    assert "motifbench tomtom --dist ed --evalue --thresh 0.1" in comments[2]
    assert "--jaspar 2016" in comments[2]


def test_targets_file_pearson_to_stdout(tmp_path, capsys):
    targets = tmp_path / "jaspar2016.meme"
    from benchmark.jaspar import core_vertebrates_meme

    targets.write_text(core_vertebrates_meme(2016))
    code = main(["tomtom", str(DATA / "partial.meme"), str(targets), "--dist", "pearson", "--evalue",
                 "--thresh", "0.1"])
    assert code == 0
    assert _body(capsys.readouterr().out) == _body((DATA / "partial__pearson_E0.1.tsv").read_text())


def test_qvalue_default_threshold(tmp_path, capsys):
    assert main(["tomtom", str(DATA / "partial.meme"), "--jaspar", "2016"]) == 0
    lines = _body(capsys.readouterr().out)[1:]
    qvals = [float(line.split("\t")[5]) for line in lines]
    assert qvals and max(qvals) <= 0.5


@pytest.mark.parametrize(
    "argv, message",
    [
        (["tomtom", "QUERIES"], "exactly one target database"),
        (["tomtom", "QUERIES", "QUERIES", "--jaspar", "2016"], "exactly one target database"),
        (["tomtom", "QUERIES", "--jaspar", "2016", "--thresh", "2"], "must be at most 1 for q-values"),
        (["tomtom", "QUERIES", "--jaspar", "1999"], "not available offline"),
        (["tomtom", "missing.meme", "--jaspar", "2016"], "not found"),
    ],
)
def test_user_errors_exit_nonzero_with_message(argv, message, capsys):
    argv = [str(DATA / "partial.meme") if a == "QUERIES" else a for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
