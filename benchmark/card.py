"""The dataset card (README.md), generated from the manifest so it can never drift from the data.

The YAML header carries `configs:` with explicit `data_files`, so the Hub and
`load_dataset(DIR, "synthetic")` need no loading script. Each config
contributes its own section; the DeepSEA section lives beside its builder.
"""
from __future__ import annotations

import importlib

import yaml

from benchmark.motifs import load_motif_set

CITATION = """\
@article{koo2019representation,
  title   = {Representation learning of genomic sequence motifs with convolutional neural networks},
  author  = {Koo, Peter K. and Eddy, Sean R.},
  journal = {PLoS Computational Biology},
  volume  = {15},
  number  = {12},
  pages   = {e1007560},
  year    = {2019},
  doi     = {10.1371/journal.pcbi.1007560}
}

@article{koo2021improving,
  title   = {Improving representations of genomic sequence motifs in convolutional networks with exponential activations},
  author  = {Koo, Peter K. and Ploenzke, Matt},
  journal = {Nature Machine Intelligence},
  volume  = {3},
  pages   = {258--266},
  year    = {2021},
  doi     = {10.1038/s42256-020-00291-x}
}"""

#: Modules that render a config's card section: ``render_section(config_manifest) -> str``.
SECTION_RENDERERS = {
    "synthetic": "benchmark.card",
    "deepsea": "benchmark.deepsea_card",
}


def _size_category(total_rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if total_rows < limit:
            return label
    return "1M<n<10M"


def _header(manifest: dict) -> str:
    configs = manifest["configs"]
    total = sum(s["rows"] for c in configs.values() for s in c["splits"].values())
    meta = {
        "license": "cc-by-4.0",
        "pretty_name": "motifbench",
        "tags": ["biology", "genomics", "dna", "motifs", "interpretability", "benchmark"],
        "task_categories": ["tabular-classification"],
        "size_categories": [_size_category(total)],
        "configs": [
            {
                "config_name": name,
                "data_files": [{"split": split, "path": info["path"]} for split, info in cfg["splits"].items()],
                **({"default": True} if name == "synthetic" else {}),
            }
            for name, cfg in configs.items()
        ],
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, default_flow_style=False) + "---\n"


def class_table() -> str:
    rows = ["| label | TF | JASPAR ID | width | IC (bits) | accepted IDs for a filter match |", "|---|---|---|---|---|---|"]
    for r in load_motif_set().table():
        rows.append(
            f"| {r['index']} | {r['tf']} | {r['jaspar_id']} | {r['width']} | {r['information_bits']} | {', '.join(r['accepted_ids'])} |"
        )
    return "\n".join(rows)


def _split_table(cfg: dict) -> str:
    rows = ["| split | rows | file | sha256 |", "|---|---|---|---|"]
    for split, info in cfg["splits"].items():
        rows.append(f"| {split} | {info['rows']:,} | `{info['path']}` | `{info['sha256'][:16]}…` |")
    return "\n".join(rows)


def render_section(cfg: dict) -> str:
    """The `synthetic` config's section of the card."""
    gen = cfg["generator"]
    return f"""## Config `synthetic`: the Koo & Eddy (2019) 12-motif set

{_split_table(cfg)}

Each sequence is {gen['length']} nt of uniform background with 1 to 5 motif
instances sampled (letter by letter, not pasted as consensus) from the PWMs of
12 JASPAR {cfg['jaspar_release']} CORE vertebrate matrices or their reverse
complements. Label *k* is 1 iff TF *k* is embedded at least once. Every
instance is recorded in `motifs` (ground truth: TF, JASPAR ID, `start`,
`end` exclusive, 0-based, `strand` `+` for the forward matrix, `-` for its
reverse complement).

Generation: preset **`{gen['preset']}`**, seed **{gen['seed']}**, N = {gen['n']:,},
length {gen['length']}, split fractions {gen['split_fractions']} (train / validation / test).
{gen['description']}

Reproduce with `motifbench data build synthetic --preset {gen['preset']} --seed {gen['seed']} --n {gen['n']} --length {gen['length']}`.
"""


def render_card(manifest: dict) -> str:
    """The full README.md for a dataset repo folder."""
    sections = []
    for name, cfg in manifest["configs"].items():
        module = importlib.import_module(SECTION_RENDERERS[name])
        sections.append(module.render_section(cfg))
    body = f"""
# motifbench

Benchmark data for *interpretable* genomics CNNs: do a model's first-layer
filters learn whole transcription-factor motifs? Synthetic sequences come with
the exact positions of the motifs that determine their labels, so a model can
be scored on classification **and** on whether its filters recover the ground
truth (see the motifbench evaluator); in vivo (DeepSEA) sequences come with
putative motif sites from a FIMO scan, flagged as such.

Dataset version **{manifest['dataset_version']}**, built by motifbench {manifest['motifbench_version']}.
`manifest.json` lists every generator parameter and the sha256 of every data file.

```python
from datasets import load_dataset
ds = load_dataset("<org>/motifbench", "synthetic", revision="v{manifest['dataset_version']}")
# or, from a local folder: load_dataset("path/to/folder", "synthetic")
```

Columns: `id` (string), `sequence` (string over ACGTN), `labels` (12 x int8,
class order below), `motifs` (list of {{tf, jaspar_id, start, end, strand}};
the `deepsea` config adds `putative` and the FIMO `p_value` to each, and a
`source_index` column).
One-hot convention for models: A,C,G,T channel-first `[N, 4, L]`, N all zeros.

## Classes (label order)

{class_table()}

A first-layer filter "matches ground truth" when any of its Tomtom hits is in
its TF's accepted list (the original code filed MA0660.1 and MA0773.1, two MEF2
matrices, under STAT1; motifbench files them under MEF2A).

{chr(10).join(sections)}
## License

The synthetic data: CC BY 4.0. The JASPAR matrices it is generated from are
distributed by JASPAR under CC BY 4.0. The `deepsea` config is derived from the
DeepSEA training bundle (Zhou & Troyanskaya 2015), whose labels come from
ENCODE and Roadmap Epigenomics ChIP-seq and DNase-seq peaks; cite DeepSEA and
respect its terms when using it.

## Citation

If you use this dataset, cite both source papers:

```bibtex
{CITATION}
```
"""
    return _header(manifest) + body
