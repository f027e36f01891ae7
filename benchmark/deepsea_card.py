"""The `deepsea` config's section of the dataset card, rendered from its manifest entry."""
from __future__ import annotations

DEEPSEA_CITATION = """\
@article{zhou2015predicting,
  title   = {Predicting effects of noncoding variants with deep learning-based sequence model},
  author  = {Zhou, Jian and Troyanskaya, Olga G.},
  journal = {Nature Methods},
  volume  = {12},
  number  = {10},
  pages   = {931--934},
  year    = {2015},
  doi     = {10.1038/nmeth.3547}
}"""


def _split_table(cfg: dict) -> str:
    rows = ["| split | rows kept | of source rows | source file | file | sha256 |", "|---|---|---|---|---|---|"]
    source_file = {f["split"]: f["file"] for f in cfg["sources"]["files"]}
    for split, info in cfg["splits"].items():
        c = cfg["counts"][split]
        rows.append(f"| {split} | {info['rows']:,} | {c['source_rows']:,} | `{source_file.get(split, '?')}` | "
                    f"`{info['path']}` | `{info['sha256'][:16]}…` |")
    return "\n".join(rows)


def _class_table(cfg: dict) -> str:
    splits = list(cfg["splits"])
    head = "| label | TF | JASPAR ID | DeepSEA column | DeepSEA name | cell type | treatment | " + \
        " | ".join(f"{s} rows" for s in splits) + " |"
    rows = [head, "|" + "---|" * (7 + len(splits))]
    for c in cfg["classes"]:
        counts = " | ".join(f"{cfg['counts'][s]['per_class'][c['tf']]:,}" for s in splits)
        rows.append(f"| {c['index']} | {c['tf']} | {c['jaspar_id']} | {c['deepsea_column']} | {c['deepsea_name']} | "
                    f"{c['cell_type']} | {c['treatment'] or 'None'} | {counts} |")
    return "\n".join(rows)


def _fimo_text(cfg: dict) -> str:
    fimo = cfg.get("fimo")
    if not fimo:
        return ("**No motif annotation**: this build skipped the FIMO scan (`--no-fimo`), so `motifs` is empty "
                "in every row. "
                "There is no ground truth for where motifs are in these sequences.")
    splits = list(cfg["splits"])
    sites = " / ".join(f"{sum(cfg['counts'][s]['putative_sites'].values()):,}" for s in splits)
    return f"""**The motif sites in this config are putative FIMO hits, NOT ground truth.** Nobody
knows where (or whether) the TFs bind inside these sequences. Each record in `motifs`
is a match of one of the 12 JASPAR {cfg['jaspar_release']} matrices found by FIMO
({fimo['tool']} {fimo['tool_version']}) at p < {fimo['threshold']:g} against a uniform
background (score bins {fimo['bin_size']}, pseudocount {fimo['eps']}, both strands), with
`putative = true` and its `p_value`. Coordinates: {fimo['coordinates']}. A labelled
sequence may have no site for its TF and a site may sit in an unlabelled sequence;
evaluations that need ground-truth positions (attribution AUROC, "match ground
truth" on positions) should use the `synthetic` config. Sites found
({' / '.join(splits)}): {sites}."""


def _fimo_option(cfg: dict) -> str:
    fimo = cfg.get("fimo")
    return f"--fimo-threshold {fimo['threshold']:g}" if fimo else "--no-fimo"


def _sources_table(cfg: dict) -> str:
    src = cfg["sources"]
    rows = ["| file | format | variables | rows | bytes | sha256 |", "|---|---|---|---|---|---|"]
    for f in src["files"]:
        storage = f" ({f['storage']})" if f.get("storage") else ""
        rows.append(f"| `{f['file']}` | {f['format']}{storage} | `{f['x_key']}`, `{f['y_key']}` | {f['rows']:,} | "
                    f"{f['bytes']:,} | `{f['sha256']}` |")
    archive = src.get("archive")
    note = (f"\nBuilt from the archive `{archive['file']}` ({archive['bytes']:,} bytes, sha256 `{archive['sha256']}`)."
            if archive else "")
    return "\n".join(rows) + note


def render_section(cfg: dict) -> str:
    """The `deepsea` config's section of the card."""
    filt = cfg["filter"]
    return f"""## Config `deepsea`: truncated DeepSEA (in vivo, K562)

{_split_table(cfg)}

Sequences are the {cfg['sequence_length']:,} nt DeepSEA training windows (Zhou & Troyanskaya 2015)
truncated as in Koo & Eddy (2019): of DeepSEA's 919 labels only the 12 K562 TF ChIP-seq
columns below are kept, in the class order of this dataset. Filter rule: {filt['rule']}.
Split: {filt['split']}. Channels: {filt['channels']}. Ids: {filt['ids']}. The column
`source_index` is the row in the source file. Koo & Eddy report 270,382 train and
23,768 test sequences after this truncation.

{_class_table(cfg)}

{_fimo_text(cfg)}

### Sources

The DeepSEA training bundle `{cfg['sources']['bundle']}` ({cfg['sources']['url']}):

{_sources_table(cfg)}

Reproduce with `motifbench data build deepsea --bundle deepsea_train/ {_fimo_option(cfg)}`.
The labels are DeepSEA's (ENCODE / Roadmap peaks processed by Zhou & Troyanskaya); cite:

```bibtex
{DEEPSEA_CITATION}
```
"""
