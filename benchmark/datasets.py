"""The dataset configs, declared once (MTEB-style): every part reads facts from here.

One :class:`DatasetConfig` per config of the motifbench dataset repo. The
dataset's *content* version lives in each built repo's ``manifest.json``
(``benchmark.loader.dataset_info``); this table holds what is fixed by design:
the default sequence length, the number of label classes, whether rows carry
ground-truth motif positions, and the first-layer tap name the baselines export.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Label classes of every config: the 12 TFs of ``benchmark.motifs.CLASSES``, in that order.
N_CLASSES = 12
#: Graph output name of the first-layer activations in exported baselines (and the tap looked for first).
FIRST_LAYER_OUTPUT = "first_layer"
#: Version of the dataset layout the builders write (``manifest.json`` ``dataset_version``).
DATASET_VERSION = "1.0.0"


@dataclass(frozen=True)
class DatasetConfig:
    """Facts about one dataset config.

    Attributes
    ----------
    name : str
        Config name (``load_split(config=name)``).
    length : int
        Sequence length L of the built dataset (``x : ndarray, shape (N, 4, L)``); the synthetic
        generator can be asked for another, and the manifest then records it.
    n_classes : int
        Label columns (``y : ndarray, shape (N, n_classes)``).
    ground_truth : {"planted", "putative"}
        ``planted``: motif positions are where the generator embedded them (scores are exact);
        ``putative``: FIMO calls on real sequence (attribution scores are indicative only).
    in_vivo : bool
        Real genomic sequence (training protocols use their in-vivo batch size).
    description : str
    """

    name: str
    length: int
    n_classes: int
    ground_truth: str
    in_vivo: bool
    description: str

    @property
    def has_ground_truth(self) -> bool:
        """True when motif positions are planted (the manifest's ``ground_truth`` flag)."""
        return self.ground_truth == "planted"


DATASET_CONFIGS: dict[str, DatasetConfig] = {
    c.name: c
    for c in (
        DatasetConfig("synthetic", 200, N_CLASSES, "planted", False,
                      "Koo & Eddy 2019 synthetic sequences with embedded JASPAR motifs"),
        DatasetConfig("deepsea", 1000, N_CLASSES, "putative", True,
                      "truncated DeepSEA (Koo & Ploenzke 2021): real sequences, 12 TF ChIP-seq labels"),
    )
}

#: Config names in table order.
CONFIG_NAMES: tuple[str, ...] = tuple(DATASET_CONFIGS)


def dataset_config(name: str) -> DatasetConfig:
    """The :class:`DatasetConfig` called ``name``.

    Raises
    ------
    MotifbenchError
        For an unknown name, listing the known ones.
    """
    from benchmark.errors import MotifbenchError

    try:
        return DATASET_CONFIGS[name]
    except KeyError:
        raise MotifbenchError(f"unknown dataset config {name!r}; expected one of {', '.join(CONFIG_NAMES)}") from None
