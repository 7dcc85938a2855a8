"""The OpenAPI documents the fuzz tests drive (tests/integration/test_fuzz.py, docs/fuzz.md).

OpenAI publishes no spec of Tollway, but Tollway serves part of OpenAI's: `served_openai_spec`
cuts OpenAI's published document (as `openai_schema` reads it) down to the operations the edge
serves, and its components to those they reach, so schemathesis builds strategies for a third
of the schemas and none of the 150 other operations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.support.openai_schema import openai_spec

# OpenAI's operations the edge serves, by path under /v1 and method. Multipart uploads (image
# edits, transcriptions, files) are left to their own tests: generating their binary parts
# costs more than the rest together and reaches the same form parser every time.
SERVED_OPENAI_OPERATIONS: dict[str, tuple[str, ...]] = {
    "/chat/completions": ("post",),
    "/completions": ("post",),
    "/embeddings": ("post",),
    "/moderations": ("post",),
    "/responses": ("post",),
    "/responses/{response_id}": ("get", "delete"),
    "/responses/{response_id}/input_items": ("get",),
    "/responses/{response_id}/cancel": ("post",),
    "/models": ("get",),
    "/models/{model}": ("get",),
    "/images/generations": ("post",),
    "/audio/speech": ("post",),
    "/files": ("get",),
    "/files/{file_id}": ("get", "delete"),
    "/batches": ("get", "post"),
    "/batches/{batch_id}": ("get",),
    "/batches/{batch_id}/cancel": ("post",),
}
_REF = "#/components/"


def served_openai_spec() -> dict[str, Any]:
    """OpenAI's spec with only `SERVED_OPENAI_OPERATIONS` and the components they reference."""
    spec = openai_spec()
    paths: dict[str, Any] = {}
    for path, methods in SERVED_OPENAI_OPERATIONS.items():
        item = spec["paths"][path]
        # Path-level keys (shared `parameters`, `summary`) stay; the other methods go.
        kept = {key: value for key, value in item.items() if key not in _HTTP_METHODS}
        paths[path] = kept | {method: item[method] for method in methods}
    components: dict[str, dict[str, Any]] = {}
    pending: list[Any] = [paths]
    while pending:
        for kind, name in _references(pending.pop()):
            if name not in components.setdefault(kind, {}):
                components[kind][name] = spec["components"][kind][name]
                pending.append(components[kind][name])
    # Security schemes are named, not referenced: keep them for the operations' `security`.
    components["securitySchemes"] = spec["components"].get("securitySchemes", {})
    return {**spec, "paths": paths, "components": components}


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _references(node: Any) -> Iterator[tuple[str, str]]:
    """Every `#/components/<kind>/<name>` reference in `node`, as (kind, name)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            kind, _, name = ref.removeprefix(_REF).partition("/")
            yield kind, name
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)
