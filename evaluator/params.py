"""Every evaluation parameter that can change a number in the result record.

One frozen dataclass, recorded verbatim (``dataclasses.asdict``) in every
result, so two records computed with different settings can never be
mistaken for each other. Defaults are the papers' settings (REFERENCE.md
sections 6 and 8) unless a docstring says otherwise.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from benchmark.errors import MotifbenchError
from evaluator.onnx_rules import OUTPUT_KINDS  # noqa: F401 - the CLI reads it from here

PPM_METHODS: tuple[str, ...] = ("nmi", "ke")
DISTANCES: tuple[str, ...] = ("ed", "pearson")
#: Koo & Eddy 2019's KE window for every model (``activation_pwm(..., window=19)``).
KE_DEFAULT_WINDOW = 19


@dataclass(frozen=True)
class EvalParams:
    """Settings of one evaluation.

    Attributes
    ----------
    batch_size: sequences per ONNX Runtime call (inference and tap).
    ppm_method: ``"nmi"`` (Koo & Ploenzke 2021, default) or ``"ke"`` (Koo & Eddy 2019).
    activation_threshold: a (sequence, position) is aligned when the filter's
        activation is strictly greater than this fraction of the filter's maximum
        over the whole split (both methods; 0.5 in both papers' code).
    nmi_window: NMI window width; window = ``[p - w//2, p - w//2 + w)``.
    ke_window: KE window width: 19, what Koo & Eddy's ``1_train_synthetic.py``
        passed to ``activation_pwm(..., window=19)`` for every model, also
        those with 9- and 3-wide first layers; ``None`` = the first conv's
        kernel width (REFERENCE.md's "window = filter width", which equals 19
        only for the 19-wide models).
    ic_threshold: a PPM position is informative when ``2 + sum p log2(p + ic_eps) > ic_threshold``.
    ic_pad: positions kept either side of the informative span.
    ic_eps: the ``1e-7`` inside the log of the clipping rule.
    tomtom_dist: Tomtom column distance, ``"ed"`` (MEME's default, the papers') or ``"pearson"``.
    tomtom_evalue: threshold on E-value (``-evalue``) rather than q-value.
    tomtom_thresh: Tomtom ``-thresh``.
    tomtom_min_overlap: Tomtom ``-min-overlap``.
    tomtom_motif_pseudo: Tomtom ``-motif-pseudo`` (query and target).
    filter_nsites: ``nsites`` written for filter PPMs; ``"width"`` = the clipped
        width, as both papers' MEME files did (it weights the motif pseudocount).
    jaspar_release: JASPAR CORE vertebrates release used as Tomtom targets.
    attribution: run in silico mutagenesis against the ground-truth mask.
    ism_sequences: how many positive split sequences (the first ones, in split
        order) are scored by ISM.
    ism_output: which output ISM differentiates: ``"logit"`` (the pre-sigmoid
        score; probabilities are converted with a clipped logit).
    ism_logit_eps: clip for converting probabilities to logits.
    ism_batch_mutants: mutants per ONNX Runtime call (kept in the record: batch
        shape can move the last float bits of some kernels).
    limit: only the first ``limit`` split rows are used (``None`` = all).
    gradient_attribution: convert the model to PyTorch (:mod:`evaluator.onnx_to_torch`) and score the
        gradient methods class-specifically (:mod:`evaluator.attribution_benchmark`); ISM is the fallback.
    attribution_sequences: positive sequences (split order, each with an instance of its explained
        class) scored by the gradient methods (500).
    slow_attribution: also run DeepLIFT/SHAP and class-specific ISM (the service worker always does).
    ig_steps: integrated-gradients steps (midpoint rule, all-zero baseline).
    shap_shuffles: dinucleotide-shuffled references per sequence for DeepLIFT/SHAP (20; the service worker
        uses 10: on two shipped baselines the class-specific AUROC moved by 0.0006 and 0.002 from 20, under
        half its CI's half-width, at half the cost; ``perf/attribution_service_cost.py``).
    attribution_seed: seed of the explained-class draw, the shuffles and the randomisation check.
    bootstrap_resamples: percentile-bootstrap resamples (over sequences) for the attribution benchmark's
        CIs; when the evaluation draws ``results.uncertainty`` intervals, their ``resamples`` replace it
        (one count for every interval of a record).
    randomisation_sequences: sequences used by the cascading randomisation check (0 = off).
    discovery: run TF-MoDISco on the corrected-saliency hypothetical contributions and Tomtom its patterns
        (opt-in: 10-60 s on 2 cores; the service worker always runs it).
    modisco_leiden_runs: modisco-lite ``n_leiden_runs`` (10; its default is 50; the service worker uses 3).
        Leiden clustering is most of TF-MoDISco's time and grows linearly with the runs; on two shipped
        baselines 3 runs gave the same patterns, coverage and match as 10 (``perf/attribution_service_cost.py``).
        The evaluator's defaults stay as they were so that records cached under them (the baseline sweep's)
        are not made stale by a setting they never used.
    """

    batch_size: int = 256
    ppm_method: str = "nmi"
    activation_threshold: float = 0.5
    nmi_window: int = 20
    ke_window: int | None = KE_DEFAULT_WINDOW
    ic_threshold: float = 0.5
    ic_pad: int = 3
    ic_eps: float = 1e-7
    tomtom_dist: str = "ed"
    tomtom_evalue: bool = True
    tomtom_thresh: float = 0.1
    tomtom_min_overlap: int = 1
    tomtom_motif_pseudo: float = 0.1
    filter_nsites: str = "width"
    jaspar_release: int = 2016
    attribution: bool = True
    ism_sequences: int = 200
    ism_output: str = "logit"
    ism_logit_eps: float = 1e-6
    ism_batch_mutants: int = 4800
    limit: int | None = None
    gradient_attribution: bool = True
    attribution_sequences: int = 500
    slow_attribution: bool = False
    ig_steps: int = 16
    shap_shuffles: int = 20
    attribution_seed: int = 0
    bootstrap_resamples: int = 1000
    randomisation_sequences: int = 100
    discovery: bool = False
    modisco_leiden_runs: int = 10

    def __post_init__(self) -> None:
        if self.ppm_method not in PPM_METHODS:
            raise MotifbenchError(f"ppm_method must be one of {PPM_METHODS}, got {self.ppm_method!r}")
        if self.tomtom_dist not in DISTANCES:
            raise MotifbenchError(f"tomtom_dist must be one of {DISTANCES}, got {self.tomtom_dist!r}")
        if self.batch_size < 1:
            raise MotifbenchError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.activation_threshold < 1.0:
            raise MotifbenchError(f"activation_threshold must be in [0, 1), got {self.activation_threshold}")
        if self.nmi_window < 2:
            raise MotifbenchError(f"nmi_window must be >= 2, got {self.nmi_window}")
        if self.ke_window is not None and self.ke_window < 1:
            raise MotifbenchError(f"ke_window must be >= 1 or None, got {self.ke_window}")
        if self.ic_pad < 0:
            raise MotifbenchError(f"ic_pad must be >= 0, got {self.ic_pad}")
        if self.ism_sequences < 0:
            raise MotifbenchError(f"ism_sequences must be >= 0, got {self.ism_sequences}")
        if self.ism_output != "logit":
            raise MotifbenchError(f"ism_output must be 'logit', got {self.ism_output!r}")
        if self.ism_batch_mutants < 1:
            raise MotifbenchError(f"ism_batch_mutants must be >= 1, got {self.ism_batch_mutants}")
        if self.filter_nsites != "width":
            raise MotifbenchError(f"filter_nsites must be 'width', got {self.filter_nsites!r}")
        for name in ("attribution_sequences", "randomisation_sequences", "bootstrap_resamples"):
            if getattr(self, name) < 0:
                raise MotifbenchError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("ig_steps", "shap_shuffles", "modisco_leiden_runs"):
            if getattr(self, name) < 1:
                raise MotifbenchError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.limit is not None and self.limit < 1:
            raise MotifbenchError(f"limit must be >= 1 or None, got {self.limit}")

    def as_dict(self) -> dict:
        """Plain JSON-ready dict, field order as declared."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "EvalParams":
        """Inverse of :meth:`as_dict`; unknown keys are an error so typos cannot pass silently."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise MotifbenchError(f"unknown evaluation parameter(s) {unknown}; known: {sorted(known)}")
        return cls(**values)
