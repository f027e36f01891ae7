"""The About tab: the datasets, how every metric is computed, how to submit, and what to cite.

Settings are read from the evaluator (``EvalParams`` defaults, ``TOMTOM_METHOD``)
and the motif set, so this page cannot drift from what the code does.
"""
from __future__ import annotations

from pathlib import Path

from benchmark.versions import motifbench_version
from evaluator import EVALUATOR_VERSION
from evaluator.params import EvalParams
from space_app.glossary import (ATTRIBUTION, AUPR, AUROC, COVERAGE, GT_MATCH, JASPAR_MATCH, PARAMS,
                                 legend_markdown)

PYTORCH_EXAMPLE = '''```python
import torch

class WithTap(torch.nn.Module):
    """Return the probabilities and the first-layer activations (after activation, before pooling)."""
    def __init__(self, net):
        super().__init__()
        self.net = net
    def forward(self, x):                      # x: [batch, 4, L] one-hot A,C,G,T
        h = self.net.act1(self.net.conv1(x))   # your first conv + its activation
        return torch.sigmoid(self.net.rest(h)), h

model = WithTap(net).eval()
torch.onnx.export(model, torch.zeros(1, 4, 200), "model.onnx",
                  input_names=["x"], output_names=["probabilities", "first_layer"],
                  dynamic_axes={"x": {0: "batch"}}, opset_version=17, external_data=False)
```'''

KERAS_EXAMPLE = '''```python
import tensorflow as tf, tf2onnx

# Keras CNNs usually read [batch, L, 4]; the benchmark feeds [batch, 4, L]: transpose in the graph.
x = tf.keras.Input(shape=(4, 200), name="x")
h = tf.keras.layers.Permute((2, 1))(x)
first = model.layers[1](h)                    # first conv (+ its activation layer if separate)
y = model_rest(first)                         # the remaining layers, ending in a sigmoid
wrapped = tf.keras.Model(x, {"probabilities": y, "first_layer": first})
tf2onnx.convert.from_keras(wrapped, input_signature=[tf.TensorSpec([None, 4, 200], tf.float32, name="x")],
                           opset=17, output_path="model.onnx")
```
A Keras tap is channel-last (`[batch, L, filters]`); the evaluator follows the graph's Transpose
nodes to find the filter axis. If it picks the wrong tensor, name the right one in *First-layer tensor*.'''


#: The results page's figure (GT match vs first-layer pool size), written by `motifbench results table
#: --figure space_app/baseline_models/results_gt_vs_pool.png`; shown on the About tab when present.
RESULTS_FIGURE = Path(__file__).resolve().parent / "baseline_models" / "results_gt_vs_pool.png"


def results_figure() -> Path | None:
    """The bundled baselines' GT-match-vs-pool figure, or None when this install has none."""
    return RESULTS_FIGURE if RESULTS_FIGURE.is_file() else None


def about_markdown() -> str:
    """The About page as Markdown."""
    p = EvalParams()
    try:
        from benchmark.motifs import load_motif_set

        motifs = load_motif_set()
        motif_list = ", ".join(f"{n} ({j})" for n, j in zip(motifs.names, motifs.jaspar_ids))
        accepted = "\n".join(f"| {n} | {j} | {', '.join(motifs.accepted_ids[n])} |"
                             for n, j in zip(motifs.names, motifs.jaspar_ids))
    except Exception:  # the page must render even without JASPAR data
        motif_list = "see docs/datasets.md"
        accepted = "| see docs/datasets.md | | |"
    e_or_q = "E-value" if p.tomtom_evalue else "q-value"
    return f"""
## What motifbench measures

Koo & Eddy (2019) and Koo & Ploenzke (2021) showed on synthetic DNA with known embedded motifs that
CNN design (first-layer max-pool size, exponential vs ReLU activation) decides whether first-layer
filters learn whole motifs. motifbench scores any model, in any framework, exported to ONNX, on
classification **and** on whether its first-layer filters recover the true motifs.

## Datasets

- **synthetic**: 200 nt random sequences with instances of 12 JASPAR CORE 2016 vertebrate motifs
  embedded by the published generator (Koo & Eddy 2019; bit-exact `koo2019` preset); 12 binary
  labels; every embedded instance (TF, JASPAR ID, start, end, strand) is recorded, so recovery is
  scored against the truth. Motifs, in label order: {motif_list}.
- **deepsea**: 1000 nt human sequences from DeepSEA, truncated to the same 12 TF ChIP-seq labels;
  motif sites are *putative* (a FIMO scan), flagged as such.

Each leaderboard view holds one dataset config and version and one evaluator major version
(this server runs evaluator {EVALUATOR_VERSION}); numbers from different versions are never shown
in one table.

## Metrics (evaluator {EVALUATOR_VERSION}, test split)

The leaderboard's columns, as its legend and header tooltips define them:

{legend_markdown()}

How each is computed:

- **{AUROC} / {AUPR}**: per class (scikit-learn `roc_auc_score`, `average_precision_score`), macro
  mean over classes with a defined score. The papers' trapezoid auPR is in the full record.
- **First-layer PPMs** ({p.ppm_method.upper()} method): per filter, every (sequence, position) whose activation
  exceeds {p.activation_threshold} x the filter's maximum over the split; a {p.nmi_window} nt window around it
  (windows touching an edge dropped); PPM = mean of the one-hot windows. Clipped to positions with
  information 2 + Σ p log2(p + {p.ic_eps:g}) > {p.ic_threshold} bits, plus {p.ic_pad} positions either side.
- **Tomtom**: each clipped PPM against JASPAR CORE vertebrates **{p.jaspar_release}** (519 matrices, from
  pyjaspar) with MEME Tomtom's settings as the papers ran it:
  `tomtom -evalue -thresh {p.tomtom_thresh}` i.e. distance **{p.tomtom_dist}** (Euclidean),
  {e_or_q} < {p.tomtom_thresh}, motif pseudocount {p.tomtom_motif_pseudo} (query and target, nsites =
  filter width), min overlap {p.tomtom_min_overlap}, both strands, complete scores, E-value = p-value x 519.
  Implementation: a NumPy port of MEME 5.5.8's `tomtom.c`.
- **{JASPAR_MATCH}**: fraction of filters with any Tomtom hit.
- **{GT_MATCH}** (match ground truth): fraction of filters whose hits (any of them, not only the best)
  include an accepted JASPAR ID of one of the 12 embedded motifs (table below). A filter whose best
  match is CEBPG (MA0838.1) still counts for CEBPB when another of its matches is MA0466.2.
- **{COVERAGE}**: how many of the 12 ground-truth TFs at least one filter matches.
- **{PARAMS}**: counted from the submitted ONNX file, so a model uploaded by hand
  and the same architecture from the zoo show the same number (for the papers' CNN-25: 159,378; its
  PyTorch trainable count is 160,048, which adds one parameter per batch-norm channel: BN's scale and
  shift become one weight scale and one bias once folded).
- **{ATTRIBUTION}**: in silico mutagenesis on {p.ism_sequences} positive test sequences; per-sequence AUROC
  of the attribution map against the embedded-motif positions, averaged (empty when not run).

Accepted JASPAR IDs per ground-truth motif (a Tomtom match on any of them counts for that TF):

| TF | embedded motif | accepted IDs |
|---|---|---|
{accepted}

The model detail view shows each filter's logo above the ground-truth motif it matches (aligned as
Tomtom aligned them; green = counts as ground truth), with the best Tomtom match and why it counts,
the 12 ground-truth logos, per-class scores, the coverage heatmap and the full result record as JSON.

## How to submit

One self-contained ONNX file: input `x` float32 `[batch, 4, L]` (one-hot A,C,G,T, channel-first;
L = 200 synthetic, 1000 deepsea), output `[batch, 12]` probabilities (or logits: say so in the form),
and ideally a second output `first_layer` holding the first layer's activations (after the activation,
before pooling). Without it, name the tensor in *First-layer tensor*, or the evaluator picks the
first Conv's activation. Standard ONNX operators only, no external data, at most 50 MB.

From **PyTorch**:
{PYTORCH_EXAMPLE}

From **Keras** (via `tf2onnx`):
{KERAS_EXAMPLE}

Then upload `model.onnx` in the **Submit** tab, or from a shell:
`motifbench submit model.onnx --manifest manifest.yaml`. Checks run at once (format, operators,
shapes, a sandboxed trial batch); an accepted submission is queued and evaluated in a sandboxed
worker. Its progress shows in the **Queue** tab.

## Citation

```bibtex
@article{{koo2019representation,
  title   = {{Representation learning of genomic sequence motifs with convolutional neural networks}},
  author  = {{Koo, Peter K. and Eddy, Sean R.}},
  journal = {{PLoS Computational Biology}}, volume = {{15}}, number = {{12}}, pages = {{e1007560}}, year = {{2019}},
  doi     = {{10.1371/journal.pcbi.1007560}}
}}
@article{{koo2021improving,
  title   = {{Improving representations of genomic sequence motifs in convolutional networks with exponential activations}},
  author  = {{Koo, Peter K. and Ploenzke, Matt}},
  journal = {{Nature Machine Intelligence}}, volume = {{3}}, pages = {{258--266}}, year = {{2021}},
  doi     = {{10.1038/s42256-020-00291-x}}
}}
@software{{motifbench,
  title  = {{motifbench: a benchmark for interpretable genomics CNNs}},
  author = {{motifbench developers}}, version = {{{motifbench_version()}}}, note = {{evaluator {EVALUATOR_VERSION}}}
}}
```
"""
