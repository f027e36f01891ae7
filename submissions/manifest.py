"""The submission manifest: who submitted which model, for which dataset version.

A manifest is a small JSON or YAML file beside ``model.onnx``. It is validated
against :data:`MANIFEST_SCHEMA` (JSON Schema, checked with ``jsonschema``) so a
typo or a missing field is reported by name before any model byte is read.
YAML is read with ``yaml.safe_load`` only: a manifest never constructs objects.
"""
from __future__ import annotations

import json
import re
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from benchmark.datasets import CONFIG_NAMES
from evaluator.onnx_rules import OUTPUT_KINDS
from submissions.errors import SubmissionRejected

MANIFEST_VERSION = 1
DATASET_CONFIGS = CONFIG_NAMES  # benchmark.datasets is the table
_VERSION_PATTERN = r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$"
_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._+()-]{0,99}$"

#: JSON Schema of a manifest; docs/submissions.md documents every field.
MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["model_name", "submitter", "dataset", "output_kind", "license"],
    "properties": {
        "manifest_version": {"const": MANIFEST_VERSION},
        "model_name": {"type": "string", "pattern": _NAME_PATTERN},
        "submitter": {"type": "string", "minLength": 1, "maxLength": 200},
        "dataset": {
            "type": "object",
            "additionalProperties": False,
            "required": ["config", "version"],
            "properties": {
                "config": {"enum": list(DATASET_CONFIGS)},
                "version": {"type": "string", "pattern": _VERSION_PATTERN},
            },
        },
        "output_kind": {"enum": list(OUTPUT_KINDS)},
        "first_layer_tap": {"type": "string", "minLength": 1, "maxLength": 500},
        "logits_output": {"type": "string", "minLength": 1, "maxLength": 500},
        "description": {"type": "string", "maxLength": 5000},
        "links": {
            "type": "array",
            "maxItems": 20,
            "items": {"type": "string", "pattern": r"^https?://\S+$", "maxLength": 500},
        },
        "license": {"type": "string", "minLength": 1, "maxLength": 100},
        "family": {"type": "string", "pattern": _NAME_PATTERN},
        "seed": {"type": "integer", "minimum": 0},
        "architecture": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "framework": {"type": "string", "maxLength": 50},
                "activation": {"type": "string", "maxLength": 50},
                "first_layer_pool": {"type": "integer", "minimum": 1},
                "params": {"type": "integer", "minimum": 0},
                "zoo_name": {"type": "string", "maxLength": 100},
            },
        },
    },
}

_HINTS = {
    "model_name": "a short name of letters, digits, spaces and ._+()- (at most 100 characters)",
    "dataset.version": "a dataset version such as 1.0.0 (the dataset's manifest.json 'version')",
    "dataset.config": f"one of {', '.join(DATASET_CONFIGS)}",
    "output_kind": f"one of {', '.join(OUTPUT_KINDS)}: what the model's output holds",
    "links": "a list of http(s) URLs",
    "manifest_version": f"{MANIFEST_VERSION} (or leave it out)",
    "family": "a name shared by the seeds of one model (same characters as model_name); the leaderboard can "
              "show a family as one row, mean +/- sd over its seeds",
    "seed": "a non-negative integer: this model's training seed within its family",
}


@dataclass(frozen=True)
class Manifest:
    """A validated manifest. ``architecture`` holds optional facts shown on the leaderboard."""

    model_name: str
    submitter: str
    dataset_config: str
    dataset_version: str
    output_kind: str
    license: str
    first_layer_tap: str | None = None
    #: An extra graph output holding pre-sigmoid logits [batch, 12]: in silico
    #: mutagenesis uses it (sigmoid outputs saturate in float32 near 1).
    logits_output: str | None = None
    description: str = ""
    links: tuple[str, ...] = ()
    architecture: dict[str, Any] = field(default_factory=dict)
    #: Seeds of one model share a ``family`` (shown as one row, mean +/- sd with n); ``seed`` names each.
    family: str | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The manifest in its file form (what ``parse_manifest`` accepts)."""
        out: dict[str, Any] = {
            "manifest_version": MANIFEST_VERSION,
            "model_name": self.model_name,
            "submitter": self.submitter,
            "dataset": {"config": self.dataset_config, "version": self.dataset_version},
            "output_kind": self.output_kind,
            "license": self.license,
            "description": self.description,
            "links": list(self.links),
        }
        if self.first_layer_tap:
            out["first_layer_tap"] = self.first_layer_tap
        if self.logits_output:
            out["logits_output"] = self.logits_output
        if self.architecture:
            out["architecture"] = dict(self.architecture)
        if self.family:
            out["family"] = self.family
        if self.seed is not None:
            out["seed"] = self.seed
        return out


#: Deepest nesting a manifest may have (the schema needs 3 levels; a little slack for error messages).
MAX_DEPTH = 8
#: Characters no manifest string may hold: control, zero-width and bidirectional-override characters.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = _REPR.maxset = 4
_REPR.maxlevel = 2


def short_repr(value: Any) -> str:
    """A repr cut to a few dozen characters and a few items (error messages never echo a whole value)."""
    return _REPR.repr(value)


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases (no "billion laughs") and nesting deeper than :data:`MAX_DEPTH`."""

    _depth = 0

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML's hook
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            raise yaml.composer.ComposerError(None, None, f"uses the YAML alias *{str(event.anchor)[:40]}; aliases "
                                              "and anchors are not accepted in a manifest", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"is nested more than {MAX_DEPTH} levels deep",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _depth(data: Any) -> int:
    """Nesting depth of plain JSON-like data, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_DEPTH:
            break
        if isinstance(node, dict):
            stack += [(v, d + 1) for v in node.values()]
        elif isinstance(node, (list, tuple)):
            stack += [(v, d + 1) for v in node]
    return deepest


def _check_characters(data: Any) -> None:
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            bad = _BAD_CHARS.search(node)
            if bad:
                raise SubmissionRejected("manifest_invalid_field",
                                         f"manifest field {where!r} holds the control or invisible character "
                                         f"U+{ord(bad.group()):04X}; use printable text")
        elif isinstance(node, dict):
            stack += [(v, f"{where}.{k}" if where else str(k)) for k, v in node.items()]
        elif isinstance(node, (list, tuple)):
            stack += [(v, f"{where}.{i}") for i, v in enumerate(node)]


def _field_name(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path)


def _describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(code, message) for one schema error, naming the field and what was expected."""
    where = _field_name(error)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        full = f"{where}.{missing}" if where else missing
        return "manifest_missing_field", f"manifest is missing required field {full!r}"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set((error.schema or {}).get("properties", {}))) \
            if isinstance(error.instance, dict) else []
        names = ", ".join(short_repr(k) for k in extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        return "manifest_unknown_field", (f"manifest{' ' + short_repr(where) if where else ''}: unknown field(s) "
                                          f"{names or '?'} (typos are not ignored)")
    hint = _HINTS.get(where) or _HINTS.get(where.split(".")[0]) or _schema_hint(error)
    return "manifest_invalid_field", f"manifest field {short_repr(where)} is invalid ({short_repr(error.instance)}); expected {hint}"


def _schema_hint(error: jsonschema.ValidationError) -> str:
    """What the schema wanted, in words that never repeat the (possibly huge) value."""
    if error.validator in ("maxLength", "maxItems"):
        return f"at most {error.validator_value} {'characters' if error.validator == 'maxLength' else 'items'}"
    if error.validator in ("minLength", "minItems"):
        return f"at least {error.validator_value} {'characters' if error.validator == 'minLength' else 'items'}"
    if error.validator == "type":
        return f"a value of type {error.validator_value}"
    if error.validator == "enum":
        return "one of " + ", ".join(map(str, error.validator_value))
    return f"{error.validator} {short_repr(error.validator_value)}"


def parse_manifest(data: Any) -> Manifest:
    """Validate a manifest already read into Python objects.

    Raises
    ------
    SubmissionRejected
        ``manifest_missing_field``, ``manifest_unknown_field`` or
        ``manifest_invalid_field``, naming the first offending field (the
        message lists the others too).
    """
    if not isinstance(data, dict):
        raise SubmissionRejected("manifest_invalid", f"a manifest must be a mapping of fields, got {type(data).__name__}")
    if _depth(data) > MAX_DEPTH:
        raise SubmissionRejected("manifest_invalid", f"the manifest is nested more than {MAX_DEPTH} levels deep")
    validator = jsonschema.Draft202012Validator(MANIFEST_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: (e.validator != "required", list(e.absolute_path)))
    if errors:
        code, message = _describe(errors[0])
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more: " + "; ".join(_describe(e)[1] for e in errors[1:4]) + ")"
        raise SubmissionRejected(code, message)
    _check_characters(data)
    return Manifest(
        model_name=data["model_name"],
        submitter=data["submitter"],
        dataset_config=data["dataset"]["config"],
        dataset_version=data["dataset"]["version"],
        output_kind=data["output_kind"],
        license=data["license"],
        first_layer_tap=data.get("first_layer_tap"),
        logits_output=data.get("logits_output"),
        description=data.get("description", ""),
        links=tuple(data.get("links", ())),
        architecture=dict(data.get("architecture", {})),
        family=data.get("family"),
        seed=data.get("seed"),
    )


def load_manifest(path: str | Path, max_bytes: int = 256 * 1024) -> Manifest:
    """Read and validate a manifest file (``.json``, ``.yaml`` or ``.yml``)."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionRejected("manifest_unreadable", f"manifest file {str(path)!r} does not exist")
    if path.stat().st_size > max_bytes:
        raise SubmissionRejected("manifest_unreadable", f"manifest {path.name} is larger than {max_bytes} bytes")
    text = path.read_text(encoding="utf-8", errors="replace")
    return parse_manifest(parse_manifest_text(text, "json" if path.suffix.lower() == ".json" else "yaml", path.name))


def parse_manifest_text(text: str, kind: str = "yaml", name: str = "manifest") -> Any:
    """Manifest text -> Python data, refusing YAML aliases and deep nesting with a one-line reason.

    Parameters
    ----------
    text : str
        The file's contents.
    kind : {"json", "yaml"}
    name : str
        The file name, for messages.
    """
    label = "JSON" if kind == "json" else "YAML"
    try:
        if kind == "json":
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise SubmissionRejected("manifest_unreadable", f"manifest {short_repr(name)} is nested more than "
                                                        f"{MAX_DEPTH} levels deep") from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SubmissionRejected("manifest_unreadable", f"manifest {short_repr(name)} is not valid {label}: "
                                                        f"{' '.join(str(exc).split())[:300]}") from None
    if _depth(data) > MAX_DEPTH:
        raise SubmissionRejected("manifest_unreadable", f"manifest {short_repr(name)} is nested more than "
                                                        f"{MAX_DEPTH} levels deep")
    return data
