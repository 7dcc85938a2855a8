"""Hypothesis strategies drawn from a schema of a published OpenAPI spec, for property tests.

`hypothesis-jsonschema` is not installed, so this reads the keywords OpenAI's request schemas
use (`$ref`, `allOf`, `anyOf`/`oneOf`, `enum`, `const`, `type`, `properties`, `required`,
`items`, `additionalProperties`, numeric and size bounds) and keeps every value small: arrays
of at most three items, strings of at most a dozen characters, and below a depth limit only
the required properties. Keywords it does not read (`pattern`, `format`) only widen what is
drawn, which a property test that accepts any input must take anyway.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

_MAX_ITEMS = 3
_MAX_DEPTH = 7
# Any small JSON value, for open objects (`additionalProperties: true`, empty schemas).
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-2, 2) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=6), inner, max_size=2)
    ),
    max_leaves=6,
)


class SpecStrategies:
    def __init__(self, schemas: dict[str, Any]) -> None:
        self._schemas = schemas
        self._built: dict[tuple[int, int], st.SearchStrategy[Any]] = {}

    def named(self, name: str) -> st.SearchStrategy[Any]:
        return self._from(self._schemas[name], 0)

    def _from(self, schema: Any, depth: int) -> st.SearchStrategy[Any]:
        """Built once per schema and depth, and only when first drawn from: the spec's
        message schemas nest deeply enough that building every branch up front is slow."""
        key = (id(schema), min(depth, _MAX_DEPTH + 1))
        if key not in self._built:
            self._built[key] = st.deferred(lambda: self._build(schema, key[1]))
        return self._built[key]

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self._schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def _merged(self, schema: dict[str, Any]) -> dict[str, Any]:
        """An `allOf` of object schemas as one object schema."""
        schema = self._resolve(schema)
        if "allOf" not in schema:
            return schema
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in [*schema["allOf"], {k: v for k, v in schema.items() if k != "allOf"}]:
            part = self._merged(part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged

    def _build(self, schema: Any, depth: int) -> st.SearchStrategy[Any]:
        if not isinstance(schema, dict) or not schema:
            return JSON
        schema = self._merged(schema)
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return st.one_of([self._from(option, depth + 1) for option in schema[key]])
        kind = schema.get("type")
        if isinstance(kind, list):
            return st.one_of([self._from({**schema, "type": k}, depth) for k in kind])
        return self._typed(kind, schema, depth)

    def _typed(self, kind: Any, schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
        if kind == "string":
            return st.text(min_size=schema.get("minLength", 0), max_size=12)
        if kind == "integer":
            low = max(int(schema.get("minimum", -3)), -(2**53))
            return st.integers(low, min(int(schema.get("maximum", 300)), 300))
        if kind == "number":
            low, high = schema.get("minimum", -3.0), schema.get("maximum", 3.0)
            return st.floats(low, high, allow_nan=False)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        if kind == "array":
            low = schema.get("minItems", 0)
            high = max(low, min(schema.get("maxItems", _MAX_ITEMS), _MAX_ITEMS))
            return st.lists(
                self._from(schema.get("items", {}), depth + 1), min_size=low, max_size=high
            )
        if kind == "object" or "properties" in schema:
            return self._object(schema, depth)
        return JSON

    def _object(self, schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
        properties = schema.get("properties", {})
        required = [name for name in schema.get("required", []) if name in properties]
        optional = [] if depth > _MAX_DEPTH else [n for n in properties if n not in required]
        fixed = st.fixed_dictionaries(
            {name: self._from(properties[name], depth + 1) for name in required},
            optional={name: self._from(properties[name], depth + 1) for name in optional},
        )
        extra = schema.get("additionalProperties")
        if properties or extra in (None, False) or depth > _MAX_DEPTH:
            return fixed
        values = JSON if extra is True else self._from(extra, depth + 1)
        return st.dictionaries(st.text(max_size=8), values, max_size=2)
