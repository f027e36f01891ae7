"""benchmark: the motifbench dataset: motifs, generators, builders, the loader, dataset configs.

Public API (imported on first use)::

    from benchmark import load_split, motif_set, DATASET_CONFIGS
    split = load_split("path/or/hub-id", config="synthetic", split="test")
    split.x   # ndarray, shape (N, 4, L), one-hot A,C,G,T
    split.y   # ndarray, shape (N, 12), labels in motif_set().names order
    motif_set().names, motif_set().pwms   # the 12 ground-truth TFs (PWMs (4, w))
"""
from benchmark.lazy import lazy_api

_API = {
    "load_split": ("benchmark.loader", "load_split"),
    "dataset_info": ("benchmark.loader", "dataset_info"),
    "motif_set": ("benchmark.motifs", "load_motif_set"),
    "load_motif_set": ("benchmark.motifs", "load_motif_set"),
    "build_synthetic": ("benchmark.synthetic", "build_synthetic"),
    "DATASET_CONFIGS": ("benchmark.datasets", "DATASET_CONFIGS"),
    "dataset_config": ("benchmark.datasets", "dataset_config"),
    "MotifbenchError": ("benchmark.errors", "MotifbenchError"),
}
__all__ = sorted(_API)
__getattr__, __dir__ = lazy_api(__name__, _API, globals())
