"""Sweep presets: named grids (models x activations x seeds, or several such sub-grids) with the
training protocol and trial count their source used (docs/baselines.md, "Sweeps")."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from baselines.errors import BaselineError
from baselines.zoo import POOL_FAMILY, POOL_FAMILY_NMI


@dataclass(frozen=True)
class Preset:
    """A named grid with the training protocol and trial count its paper used.

    Command-line flags (``--models``, ``--activations``, ``--seeds``,
    ``--protocol`` and every protocol field) override single parts.
    """

    name: str
    description: str
    models: tuple[str, ...]
    activations: tuple[str, ...]
    seeds: tuple[int, ...]
    protocol: str
    #: Sub-grids (models, activations, seeds) when the preset is not one product; flags that set
    #: models, activations or seeds replace the groups by the single product they describe.
    groups: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]], ...] = ()

    def cells(self) -> list[tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]]:
        """The (models, activations, seeds) products this preset runs."""
        return list(self.groups) or [(self.models, self.activations, self.seeds)]


#: Named grids, one per paper, each with that paper's models, protocol and number of trials.
PRESETS: dict[str, Preset] = {
    "koo2019": Preset(
        name="koo2019",
        description="Koo & Eddy 2019: every model of theirs (30/128-filter CNN-k, variants), relu, "
        "koo2019 protocol, 5 trials",
        models=(*POOL_FAMILY, "cnn-50-2", "cnn9-4", "cnn9-25", "cnn3-2", "cnn3-50", "cnn19-1-2",
                "cnn-1-1-100", "cnn-25-f60", "cnn-25-f90", "cnn-25-f120"),
        activations=("relu",),
        seeds=tuple(range(5)),
        protocol="koo2019",
    ),
    "nmi2021": Preset(
        name="nmi2021",
        description="Koo & Ploenzke 2021: the NMI code's CNN-k for every pool size and its CNN-deep, "
        "relu and exp, nmi2021 protocol, 10 trials",
        models=(*POOL_FAMILY_NMI, "cnn-deep-nmi"),
        activations=("relu", "exp"),
        seeds=tuple(range(10)),
        protocol="nmi2021",
    ),
}

_KE_VARIANTS: tuple[str, ...] = ("cnn-50-2", "cnn9-4", "cnn9-25", "cnn3-2", "cnn3-50", "cnn19-1-2", "cnn-1-1-100",
                                  "cnn-25-f60", "cnn-25-f90", "cnn-25-f120")
PRESETS["results"] = Preset(
    name="results",
    description="the results table's grid (docs/results.md, issue 13): CNN-k (every pool) relu/exp x 5 seeds, "
    "Koo & Eddy's variants relu x 3 seeds, CNN-deep relu/exp x 3 seeds; koo2019 full protocol "
    "(up to 100 epochs, patience 20, best weights)",
    models=(*POOL_FAMILY, *_KE_VARIANTS, "cnn-deep"),
    activations=("relu", "exp"),
    seeds=tuple(range(5)),
    protocol="koo2019",
    groups=((POOL_FAMILY, ("relu", "exp"), tuple(range(5))),
            (_KE_VARIANTS, ("relu",), tuple(range(3))),
            (("cnn-deep",), ("relu", "exp"), tuple(range(3)))),
)

#: Other accepted preset names and the preset they stand for (documented in docs/baselines.md).
PRESET_ALIASES: dict[str, str] = {"paper": "nmi2021"}


def get_preset(name: str) -> Preset:
    """A preset by name or alias (``paper`` = ``nmi2021``, the exponential-activation paper)."""
    key = PRESET_ALIASES.get(name, name)
    if key not in PRESETS:
        known = [*PRESETS, *(f"{a} (= {t})" for a, t in PRESET_ALIASES.items())]
        raise BaselineError(f"unknown sweep preset {name!r}; expected one of {', '.join(known)}")
    return PRESETS[key]


def preset_runs(preset: Preset) -> set[tuple[str, str, int]]:
    """Every (model, activation, seed) the preset trains."""
    return {(m, a, s) for models, acts, seeds in preset.cells() for m in models for a in acts for s in seeds}


def matching_preset(runs: Iterable[tuple[str, str, int, str]]) -> Preset | None:
    """The preset whose grid is exactly these runs, if one is.

    Parameters
    ----------
    runs : iterable of (model, activation, seed, protocol label)
        One per run. A label with departures (``koo2019 (epochs 40)``) matches no preset,
        since the preset would not retrain those runs.

    Returns
    -------
    Preset or None
        The first preset (in `PRESETS` order) with the same runs, every one under its protocol;
        None when a run is missing, extra, listed twice or under another protocol.
    """
    runs = list(runs)
    cells = {(m, a, int(s)) for m, a, s, _ in runs}
    labels = {label for *_, label in runs}
    if len(cells) != len(runs) or len(labels) != 1:
        return None
    for preset in PRESETS.values():
        if labels == {preset.protocol} and preset_runs(preset) == cells:
            return preset
    return None
