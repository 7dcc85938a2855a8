"""A client's JSON schema -> the subset Claude's native structured outputs
(`output_config.format`) take.

The same rules as the anthropic SDK's `transform_schema` (this package does no I/O and so
imports no SDK): every object closed with `additionalProperties: false`, `oneOf` read as
`anyOf`, string formats and `minItems` only where supported, and every other keyword the API
refuses moved into the description so the model may still follow it. A schema with a part
that has neither a type nor a choice cannot be expressed: `None`, and the caller falls back.
"""

from __future__ import annotations

from typing import Any

_STRING_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)
_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})
# Bounds a schema may not exceed here: the edge checked the body's depth and size, this
# keeps a translation's recursion well inside Python's limit.
_MAX_DEPTH = 48


class _Unsupported(Exception):
    pass


def strict_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return _strict(schema, 0)
    except _Unsupported:
        return None


def _strict(schema: Any, depth: int) -> dict[str, Any]:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        raise _Unsupported
    rest = dict(schema)
    out: dict[str, Any] = {}
    defs = rest.pop("$defs", None)
    if isinstance(defs, dict):
        out["$defs"] = {name: _strict(value, depth + 1) for name, value in defs.items()}
    ref = rest.pop("$ref", None)
    if isinstance(ref, str):
        out["$ref"] = ref
        return out
    kind = rest.pop("type", None)
    literal = _literals(rest, out)
    choice = _choice(rest, out, depth)
    if not literal and not choice:
        if kind not in _TYPES:
            raise _Unsupported
        out["type"] = kind
    for key in ("description", "title"):
        if isinstance(rest.get(key), str):
            out[key] = rest.pop(key)
    if kind == "object" and not literal:
        _object(rest, out, depth)
    elif kind == "string" and rest.get("format") in _STRING_FORMATS:
        out["format"] = rest.pop("format")
    elif kind == "array":
        _array(rest, out, depth)
    _describe_rest(rest, out)
    return out


def _array(rest: dict[str, Any], out: dict[str, Any], depth: int) -> None:
    if "items" in rest:
        out["items"] = _strict(rest.pop("items"), depth + 1)
    if rest.get("minItems") in (0, 1):
        out["minItems"] = rest.pop("minItems")


def _object(rest: dict[str, Any], out: dict[str, Any], depth: int) -> None:
    properties = rest.pop("properties", {})
    if not isinstance(properties, dict):
        raise _Unsupported
    out["properties"] = {key: _strict(value, depth + 1) for key, value in properties.items()}
    rest.pop("additionalProperties", None)
    out["additionalProperties"] = False
    required = rest.pop("required", None)
    if isinstance(required, list):
        out["required"] = required


def _literals(rest: dict[str, Any], out: dict[str, Any]) -> bool:
    enum = rest.get("enum")
    if isinstance(enum, list) and enum and all(_primitive(value) for value in enum):
        out["enum"] = list(rest.pop("enum"))
    if "const" in rest and _primitive(rest["const"]):
        out["const"] = rest.pop("const")
    return "enum" in out or "const" in out


def _choice(rest: dict[str, Any], out: dict[str, Any], depth: int) -> bool:
    for source, target in (("anyOf", "anyOf"), ("oneOf", "anyOf"), ("allOf", "allOf")):
        variants = rest.pop(source, None)
        if isinstance(variants, list) and target not in out:
            out[target] = [_strict(variant, depth + 1) for variant in variants]
    return "anyOf" in out or "allOf" in out


def _describe_rest(rest: dict[str, Any], out: dict[str, Any]) -> None:
    if not rest:
        return
    hint = "{" + ", ".join(f"{key}: {value}" for key, value in rest.items()) + "}"
    description = out.get("description")
    out["description"] = f"{description}\n\n{hint}" if description else hint


def _primitive(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
