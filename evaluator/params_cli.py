"""The command-line flags that set :class:`evaluator.params.EvalParams`, defined once.

``motifbench evaluate`` and ``motifbench worker`` both call
:func:`add_eval_params_arguments`; :func:`eval_params_overrides` turns the
parsed flags into the overrides a user actually gave (flags left out keep the
papers' defaults, or a ``--params`` file's values in the worker).
"""
from __future__ import annotations

import argparse
from typing import Any

from evaluator.params import DISTANCES, PPM_METHODS, EvalParams

#: argparse dest -> EvalParams field, for every flag of the group.
_FIELDS = {
    "batch_size": "batch_size",
    "ppm_method": "ppm_method",
    "ke_window": "ke_window",
    "dist": "tomtom_dist",
    "evalue_thresh": "tomtom_thresh",
    "jaspar": "jaspar_release",
    "ism_sequences": "ism_sequences",
    "limit": "limit",
    "attribution_sequences": "attribution_sequences",
}


def _ke_window(text: str) -> int | None:
    """``--ke-window``: a positive width, or ``kernel`` (None: the first conv's kernel width)."""
    if text.strip().lower() == "kernel":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a width (e.g. 19) or 'kernel', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"the KE window must be >= 1, got {value}")
    return value


def add_eval_params_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Add the "evaluation parameters" argument group (every flag defaults to "not given")."""
    d = EvalParams()
    g = parser.add_argument_group("evaluation parameters (defaults: the papers' settings)")
    g.add_argument("--ppm-method", choices=PPM_METHODS, default=None,
                   help="nmi = Koo & Ploenzke 2021 (20-nt unweighted windows), ke = Koo & Eddy 2019 "
                        f"(filter-width windows weighted by activation) (default: {d.ppm_method})")
    g.add_argument("--ke-window", type=_ke_window, default=argparse.SUPPRESS,
                   help=f"KE window width, or 'kernel' for the first conv's kernel width (default: {d.ke_window}, "
                        "what Koo & Eddy used for every model)")
    g.add_argument("--dist", choices=DISTANCES, default=None,
                   help=f"Tomtom column distance (default: {d.tomtom_dist}, MEME's default and the papers')")
    g.add_argument("--evalue-thresh", "--thresh", dest="evalue_thresh", type=float, default=None, metavar="E",
                   help="Tomtom E-value threshold: a filter matches a JASPAR motif when the pair's E-value is at "
                        f"most E (MEME's -evalue -thresh E; the record stores tomtom_thresh with tomtom_evalue=true) "
                        f"(default: {d.tomtom_thresh}). --thresh is the old name. Note: `motifbench tomtom "
                        "--thresh` is a q-value unless --evalue, as in MEME")
    g.add_argument("--jaspar", type=int, default=None,
                   help=f"JASPAR CORE vertebrates release used as Tomtom targets (default: {d.jaspar_release})")
    g.add_argument("--ism-sequences", type=int, default=None,
                   help=f"positive sequences scored by in silico mutagenesis (default: {d.ism_sequences})")
    g.add_argument("--no-attribution", action="store_true", help="skip the in silico mutagenesis stage")
    g.add_argument("--no-gradient-attribution", action="store_true",
                   help="skip the class-specific attribution benchmark (ONNX -> torch gradients)")
    g.add_argument("--attribution-sequences", type=int, default=None,
                   help=f"positive sequences scored by the gradient methods (default: {d.attribution_sequences})")
    g.add_argument("--slow-attribution", action="store_true",
                   help="also integrated gradients, DeepLIFT/SHAP (dinucleotide shuffles) and class-specific ISM")
    g.add_argument("--discovery", action="store_true",
                   help="TF-MoDISco on the corrected gradients, its patterns vs JASPAR")
    g.add_argument("--limit", type=int, default=None, help="use only the first N sequences of the split (quick runs)")
    g.add_argument("--batch-size", type=int, default=None,
                   help=f"sequences per ONNX Runtime call (default: {d.batch_size})")
    return g


def eval_params_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The EvalParams fields the flags of :func:`add_eval_params_arguments` set (only those given)."""
    out: dict[str, Any] = {}
    for dest, field in _FIELDS.items():
        if dest == "ke_window":
            if hasattr(args, "ke_window"):
                out[field] = args.ke_window
            continue
        value = getattr(args, dest, None)
        if value is not None:
            out[field] = value
    if getattr(args, "no_attribution", False):
        out["attribution"] = False
    if getattr(args, "no_gradient_attribution", False):
        out["gradient_attribution"] = False
    for flag in ("slow_attribution", "discovery"):
        if getattr(args, flag, False):
            out[flag] = True
    if getattr(args, "bootstrap_resamples", None) is not None:  # one count for every interval of the record,
        out["bootstrap_resamples"] = args.bootstrap_resamples   # the attribution benchmark's included
    return out


def add_interval_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The bootstrap-interval flags (``results.uncertainty``), shared by ``evaluate`` and ``worker``."""
    from evaluator.uncertainty import DEFAULT_RECOVERY_RESAMPLES, DEFAULT_RESAMPLES, DEFAULT_SEED

    g = parser.add_argument_group("bootstrap intervals (docs/rounds.md)")
    g.add_argument("--no-intervals", action="store_true", help="skip the bootstrap intervals (results.uncertainty)")
    g.add_argument("--bootstrap-resamples", type=int, default=None,
                   help=f"resamples for every classification and attribution interval (default: {DEFAULT_RESAMPLES})")
    g.add_argument("--recovery-resamples", type=int, default=DEFAULT_RECOVERY_RESAMPLES,
                   help="resamples for motif-recovery intervals, each a Tomtom run of every filter "
                        "(default: %(default)s)")
    g.add_argument("--bootstrap-seed", type=int, default=DEFAULT_SEED,
                   help="seed of the resampling, recorded (default: %(default)s)")
    return g


def interval_settings(args: argparse.Namespace):
    """The :class:`~evaluator.uncertainty.BootstrapSettings` the flags ask for (None with --no-intervals)."""
    from benchmark.errors import MotifbenchError
    from evaluator.uncertainty import DEFAULT_RESAMPLES, BootstrapSettings

    if args.no_intervals:
        return None
    try:
        resamples = DEFAULT_RESAMPLES if args.bootstrap_resamples is None else args.bootstrap_resamples
        return BootstrapSettings(resamples=resamples, recovery_resamples=args.recovery_resamples,
                                 seed=args.bootstrap_seed)
    except ValueError as exc:
        raise MotifbenchError(str(exc)) from None
