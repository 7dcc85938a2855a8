"""Hypothesis strategies that generate JSON from an OpenAPI spec's schemas, small and bounded.

`SchemaStrategies(spec).named("CreateMessageParams")` draws request bodies the spec accepts:
objects with their required properties and some optional ones, arrays of a few items,
short strings (matching a `pattern` where the schema has one), numbers within their bounds.
Nesting deeper than `max_depth` keeps only what is required, so every draw is finite. Schemas
named in `exclude` are never chosen where a union offers an alternative, and `overrides`
replace properties: that narrows a spec to the part a translation can carry.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

_REF = "#/components/schemas/"
_MAX_ITEMS = 3
# Arrays of plain values may run longer, past limits such as chat's four stop sequences.
_MAX_SCALAR_ITEMS = 6
_MAX_TEXT = 12
_JSON_LEAVES = st.none() | st.booleans() | st.integers(-100, 100) | st.text(max_size=_MAX_TEXT)
_JSON_OBJECTS = st.dictionaries(st.text(max_size=8), _JSON_LEAVES, max_size=3)


class SchemaStrategies:
    def __init__(
        self,
        spec: Mapping[str, Any],
        exclude: frozenset[str] = frozenset(),
        max_depth: int = 5,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._schemas: Mapping[str, Any] = spec["components"]["schemas"]
        self._exclude = exclude
        self._max_depth = max_depth
        # Per schema name, properties replaced by other schemas (to bound a list, say) or by
        # strategies of their own.
        self._overrides = overrides or {}
        self._memo: dict[tuple[str, int], st.SearchStrategy[Any]] = {}

    def named(self, name: str) -> st.SearchStrategy[Any]:
        return self._ref(name, self._max_depth)

    def _ref(self, name: str, depth: int) -> st.SearchStrategy[Any]:
        key = (name, depth)
        if key not in self._memo:
            schema = dict(self._schemas[name])
            override = self._overrides.get(name)
            if override:
                schema["properties"] = {**schema.get("properties", {}), **override}
            self._memo[key] = st.deferred(lambda: self._build(schema, depth))
        return self._memo[key]

    def _excluded(self, schema: Any) -> bool:
        ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
        return ref.removeprefix(_REF) in self._exclude

    def _build(self, schema: Any, depth: int) -> st.SearchStrategy[Any]:
        if isinstance(schema, st.SearchStrategy):
            return schema
        if "$ref" in schema:
            return self._ref(str(schema["$ref"]).removeprefix(_REF), depth)
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(list(schema["enum"]))
        for union in ("anyOf", "oneOf"):
            if union in schema:
                return self._union(schema[union], depth)
        if "allOf" in schema:
            return self._build(_merged(schema["allOf"], self._schemas), depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            return st.one_of([self._build({**schema, "type": k}, depth) for k in kind])
        builders: dict[str, Callable[[Mapping[str, Any], int], st.SearchStrategy[Any]]] = {
            "object": self._object,
            "array": self._array,
            "string": _string,
            "integer": _integer,
            "number": _number,
            "boolean": lambda s, d: st.booleans(),
            "null": lambda s, d: st.none(),
        }
        builder = builders.get(str(kind))
        if builder is None:
            return _JSON_LEAVES if depth <= 0 else _JSON_LEAVES | _JSON_OBJECTS
        return builder(schema, depth)

    def _union(self, options: list[Any], depth: int) -> st.SearchStrategy[Any]:
        kept = [o for o in options if not self._excluded(o)] or options
        if depth <= 0:
            # Prefer the branches that end here (null, a string) over nested ones.
            flat = [o for o in kept if isinstance(o, dict) and o.get("type") in _SCALARS]
            kept = flat or kept
        return st.one_of([self._build(option, depth) for option in kept])

    def _object(self, schema: Mapping[str, Any], depth: int) -> st.SearchStrategy[Any]:
        properties: Mapping[str, Any] = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        if not properties:
            extra = schema.get("additionalProperties")
            return _JSON_OBJECTS if extra is not False and depth > 0 else st.just({})
        inner = depth - 1
        needed = {
            name: self._build(sub, inner) for name, sub in properties.items() if name in required
        }
        optional = (
            {
                name: self._build(sub, inner)
                for name, sub in properties.items()
                if name not in required and not self._excluded(sub)
            }
            if depth > 0
            else {}
        )
        return st.fixed_dictionaries(needed, optional=optional)

    def _array(self, schema: Mapping[str, Any], depth: int) -> st.SearchStrategy[Any]:
        low = int(schema.get("minItems", 0))
        items = schema.get("items") or {}
        longest = _MAX_SCALAR_ITEMS if items.get("type") in _SCALARS else _MAX_ITEMS
        high = min(int(schema.get("maxItems", longest)), max(low, longest))
        if depth <= 0:
            high = low
        return st.lists(self._build(items, depth - 1), min_size=low, max_size=high)


_SCALARS = ("null", "string", "integer", "number", "boolean")


def _merged(parts: list[Any], schemas: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        if "$ref" in part:
            part = schemas[str(part["$ref"]).removeprefix(_REF)]
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged


def _string(schema: Mapping[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if schema.get("format") == "byte":
        return st.binary(max_size=8).map(lambda raw: base64.b64encode(raw).decode())
    pattern = schema.get("pattern")
    low = int(schema.get("minLength", 0))
    high = min(int(schema.get("maxLength", _MAX_TEXT)), max(low, _MAX_TEXT))
    if pattern:
        return st.from_regex(str(pattern), fullmatch=True).filter(lambda s: low <= len(s) <= high)
    return st.text(min_size=low, max_size=high)


def _integer(schema: Mapping[str, Any], depth: int) -> st.SearchStrategy[Any]:
    low = int(schema.get("minimum", -1000))
    return st.integers(low, int(schema.get("maximum", low + 100_000)))


def _number(schema: Mapping[str, Any], depth: int) -> st.SearchStrategy[Any]:
    return st.floats(
        float(schema.get("minimum", -1000)),
        float(schema.get("maximum", 1000)),
        allow_nan=False,
        allow_infinity=False,
    )
