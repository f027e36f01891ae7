"""The row schema of every motifbench dataset config (DESIGN.md data contract).

Written once as an Arrow schema carrying the Hugging Face ``Features`` in its
metadata, so ``load_dataset`` restores the exact feature types (a fixed-length
int8 label vector, a list of motif structs) with no loading script.
"""
from __future__ import annotations

import json

import pyarrow as pa

from benchmark.datasets import N_CLASSES

MOTIF_STRUCT = pa.struct(
    [
        ("tf", pa.string()),
        ("jaspar_id", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("strand", pa.string()),
    ]
)

#: Extra per-row columns a config may add after the shared ones.
EXTRA_COLUMNS: dict[str, dict[str, pa.DataType]] = {
    "synthetic": {},
    "deepsea": {"source_index": pa.int64()},
}


def _hf_features(config: str) -> dict:
    motif_feature = {
        "feature": {
            "tf": {"dtype": "string", "_type": "Value"},
            "jaspar_id": {"dtype": "string", "_type": "Value"},
            "start": {"dtype": "int32", "_type": "Value"},
            "end": {"dtype": "int32", "_type": "Value"},
            "strand": {"dtype": "string", "_type": "Value"},
        },
        "_type": "List",
    }
    features = {
        "id": {"dtype": "string", "_type": "Value"},
        "sequence": {"dtype": "string", "_type": "Value"},
        "labels": {"feature": {"dtype": "int8", "_type": "Value"}, "length": N_CLASSES, "_type": "List"},
        "motifs": motif_feature,
    }
    if "putative" in _motif_fields(config):
        motif_feature["feature"]["putative"] = {"dtype": "bool", "_type": "Value"}
        motif_feature["feature"]["p_value"] = {"dtype": "float32", "_type": "Value"}
    for name, dtype in EXTRA_COLUMNS[config].items():
        features[name] = {"dtype": str(dtype), "_type": "Value"}
    return features


def _motif_fields(config: str) -> tuple[str, ...]:
    return ("tf", "jaspar_id", "start", "end", "strand") + (("putative", "p_value") if config == "deepsea" else ())


def motif_struct(config: str) -> pa.StructType:
    """The motif record type: deepsea adds ``putative`` and the FIMO ``p_value``."""
    fields = list(MOTIF_STRUCT)
    if config == "deepsea":
        fields += [pa.field("putative", pa.bool_()), pa.field("p_value", pa.float32())]
    return pa.struct(fields)


def arrow_schema(config: str) -> pa.Schema:
    """Arrow schema of a config's parquet files, with HF features in the metadata."""
    if config not in EXTRA_COLUMNS:
        raise KeyError(f"unknown dataset config {config!r}; known: {sorted(EXTRA_COLUMNS)}")
    fields = [
        pa.field("id", pa.string()),
        pa.field("sequence", pa.string()),
        pa.field("labels", pa.list_(pa.int8(), N_CLASSES)),
        pa.field("motifs", pa.list_(motif_struct(config))),
    ]
    fields += [pa.field(name, dtype) for name, dtype in EXTRA_COLUMNS[config].items()]
    meta = {"huggingface": json.dumps({"info": {"features": _hf_features(config)}})}
    return pa.schema(fields, metadata={k.encode(): v.encode() for k, v in meta.items()})
