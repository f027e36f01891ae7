"""Manifest validation: every missing, unknown or malformed field is named."""
from __future__ import annotations

import json

import pytest

from submissions.errors import SubmissionRejected
from submissions.manifest import load_manifest, parse_manifest

GOOD = {
    "model_name": "my-cnn",
    "submitter": "Jane Doe <jane@example.org>",
    "dataset": {"config": "synthetic", "version": "1.0.0"},
    "output_kind": "probabilities",
    "license": "MIT",
}


def _rejected(data) -> SubmissionRejected:
    with pytest.raises(SubmissionRejected) as info:
        parse_manifest(data)
    return info.value


def test_minimal_manifest_round_trips():
    m = parse_manifest(GOOD)
    assert (m.model_name, m.dataset_config, m.dataset_version, m.output_kind) == ("my-cnn", "synthetic", "1.0.0", "probabilities")
    assert m.first_layer_tap is None and m.links == ()
    assert parse_manifest(m.to_dict()) == m


@pytest.mark.parametrize("field", ["model_name", "submitter", "dataset", "output_kind", "license"])
def test_missing_field_is_named(field):
    data = {k: v for k, v in GOOD.items() if k != field}
    err = _rejected(data)
    assert err.code == "manifest_missing_field"
    assert repr(field) in err.detail


def test_missing_nested_field_is_named_with_its_path():
    err = _rejected({**GOOD, "dataset": {"config": "synthetic"}})
    assert err.code == "manifest_missing_field" and "'dataset.version'" in err.detail


@pytest.mark.parametrize(
    "patch, where",
    [
        ({"output_kind": "probs"}, "output_kind"),
        ({"dataset": {"config": "imagenet", "version": "1.0.0"}}, "dataset.config"),
        ({"dataset": {"config": "synthetic", "version": "latest"}}, "dataset.version"),
        ({"links": ["ftp://example.org/x"]}, "links.0"),
        ({"model_name": ""}, "model_name"),
        ({"first_layer_tap": 3}, "first_layer_tap"),
        ({"architecture": {"params": -1}}, "architecture.params"),
    ],
)
def test_invalid_field_is_named(patch, where):
    err = _rejected({**GOOD, **patch})
    assert err.code == "manifest_invalid_field"
    assert repr(where) in err.detail


def test_unknown_field_is_a_typo_not_ignored():
    err = _rejected({**GOOD, "outputkind": "logits"})
    assert err.code == "manifest_unknown_field" and "outputkind" in err.detail


def test_not_a_mapping():
    assert _rejected(["a", "list"]).code == "manifest_invalid"


def test_yaml_and_json_files(tmp_path):
    y = tmp_path / "m.yaml"
    y.write_text("model_name: my-cnn\nsubmitter: me\ndataset: {config: deepsea, version: v1.2.0}\n"
                 "output_kind: logits\nlicense: CC-BY-4.0\nfirst_layer_tap: act1\n")
    m = load_manifest(y)
    assert (m.dataset_config, m.dataset_version, m.first_layer_tap) == ("deepsea", "v1.2.0", "act1")
    j = tmp_path / "m.json"
    j.write_text(json.dumps(GOOD))
    assert load_manifest(j).model_name == "my-cnn"


def test_unreadable_files(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    with pytest.raises(SubmissionRejected) as info:
        load_manifest(bad)
    assert info.value.code == "manifest_unreadable"
    with pytest.raises(SubmissionRejected) as info:
        load_manifest(tmp_path / "missing.yaml")
    assert info.value.code == "manifest_unreadable"
    # YAML tags that would build Python objects are refused by safe_load
    evil = tmp_path / "evil.yaml"
    evil.write_text("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(SubmissionRejected) as info:
        load_manifest(evil)
    assert info.value.code == "manifest_unreadable"
