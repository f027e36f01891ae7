"""One argument group sets EvalParams for `motifbench evaluate` and `motifbench worker`."""
from __future__ import annotations

import argparse

import pytest

from evaluator.params import EvalParams
from evaluator.params_cli import add_eval_params_arguments, eval_params_overrides


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_eval_params_arguments(parser)
    return eval_params_overrides(parser.parse_args(argv))


def test_only_given_flags_override_and_the_old_thresh_name_still_works():
    assert _parse([]) == {}
    assert _parse(["--evalue-thresh", "0.05"]) == {"tomtom_thresh": 0.05}
    assert _parse(["--thresh", "0.05"]) == {"tomtom_thresh": 0.05}
    got = _parse(["--ppm-method", "ke", "--ke-window", "kernel", "--limit", "7", "--no-attribution"])
    assert got == {"ppm_method": "ke", "ke_window": None, "limit": 7, "attribution": False}
    params = EvalParams.from_dict(got)
    assert params.ke_window is None and params.tomtom_evalue is True  # the threshold is an E-value


def test_evaluate_and_worker_share_the_group():
    from motifbench.cli import build_parser

    parser = build_parser()
    argv = ["--evalue-thresh", "0.2", "--jaspar", "2016", "--ism-sequences", "3"]
    evaluate = parser.parse_args(["evaluate", "m.onnx", "--out", "r.json", *argv])
    worker = parser.parse_args(["worker", *argv])
    assert eval_params_overrides(evaluate) == eval_params_overrides(worker) == {
        "tomtom_thresh": 0.2, "jaspar_release": 2016, "ism_sequences": 3}


def test_bad_ke_window_is_refused():
    with pytest.raises(SystemExit):
        _parse(["--ke-window", "0"])
