"""Read and check a client's JSON body: size first, then just the fields the edge needs.

The edge validates only what it acts on (model, stream, token caps, and on Anthropic's
Messages API the thinking budget and `metadata.user_id`); the rest of the body travels to the
router untouched, so new OpenAI or Anthropic fields work without a Tollway release.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from tollway_common.contract import Endpoint
from tollway_common.errors import InvalidRequest, PayloadTooLarge, RequestTimeout


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class Head(BaseModel):
    # Strict: OpenAI refuses `"stream": "yes"`, so Tollway must not quietly read it as true.
    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None

    def refuse_unserved(self) -> None:
        """Raise InvalidRequest for a well-formed field asking what Tollway does not offer."""


class ChatHead(Head):
    messages: list[dict[str, Any]] = Field(min_length=1)
    n: int | None = Field(default=None, ge=1, le=128)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)


class CompletionHead(Head):
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(default=None, ge=0)
    n: int | None = Field(default=None, ge=1, le=128)
    best_of: int | None = Field(default=None, ge=1, le=128)


class EmbeddingHead(Head):
    input: str | list[str] | list[int] | list[list[int]]


class ModerationHead(Head):
    # Text, or the multimodal parts (`{"type": "text" | "image_url", ...}`).
    input: str | list[str] | list[dict[str, Any]]


class ImageGenerationHead(Head):
    prompt: str = Field(min_length=1)
    n: int | None = Field(default=None, ge=1, le=10)


class SpeechHead(Head):
    # The text to speak; OpenAI takes up to 4096 characters.
    input: str = Field(min_length=1, max_length=4096)
    # A built-in voice's name, or `{"id": ...}` for a custom one.
    voice: str | dict[str, Any]


class RerankHead(Head):
    """The reranking body vLLM, Jina and Cohere-compatible servers take."""

    query: str = Field(min_length=1)
    documents: list[str | dict[str, Any]] = Field(min_length=1, max_length=10_000)
    top_n: int | None = Field(default=None, ge=1)
    return_documents: bool | None = None


class Thinking(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    type: str
    budget_tokens: int | None = Field(default=None, ge=1)


class Metadata(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    user_id: str | None = Field(default=None, max_length=512)


class CountTokensHead(Head):
    """Anthropic's `/v1/messages/count_tokens`: the prompt of a Messages request."""

    messages: list[dict[str, Any]] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    thinking: Thinking | None = None


class MessagesHead(CountTokensHead):
    # Anthropic requires it: a Messages request always names the most it may write.
    max_tokens: int = Field(ge=1)
    metadata: Metadata | None = None


# A Responses id as Tollway (and OpenAI) mint them; anything else cannot name a stored one.
RESPONSE_ID_PATTERN = r"^resp_[A-Za-z0-9_-]{1,128}$"


class ResponsesHead(Head):
    """OpenAI's `/v1/responses`: the prompt (`input`, `instructions`), the token bound, and
    what the edge must refuse or the router must act on (`previous_response_id`, `store`)."""

    input: str | list[dict[str, Any]] | None = None
    instructions: str | list[dict[str, Any]] | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    previous_response_id: str | None = Field(default=None, pattern=RESPONSE_ID_PATTERN)
    store: bool | None = None
    background: bool | None = None

    def refuse_unserved(self) -> None:
        if self.background:
            raise InvalidRequest(
                "background responses are not supported; leave 'background' out and wait for "
                "the answer, or stream it.",
                param="background",
            )


_HEADS: dict[Endpoint, type[Head]] = {
    Endpoint.CHAT_COMPLETIONS: ChatHead,
    Endpoint.COMPLETIONS: CompletionHead,
    Endpoint.EMBEDDINGS: EmbeddingHead,
    Endpoint.MODERATIONS: ModerationHead,
    Endpoint.IMAGES_GENERATIONS: ImageGenerationHead,
    Endpoint.AUDIO_SPEECH: SpeechHead,
    Endpoint.RERANK: RerankHead,
    Endpoint.MESSAGES: MessagesHead,
    Endpoint.MESSAGES_COUNT_TOKENS: CountTokensHead,
    Endpoint.RESPONSES: ResponsesHead,
}


async def read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The whole body within `timeout_s`: a client trickling it a byte at a time must not
    hold a connection (and its admission) open for as long as it likes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(
            f"The request body did not arrive within {timeout_s:g} seconds."
        ) from None
    return b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"Request body is larger than this gateway accepts ({limit} bytes). Send fewer or "
        "smaller images or documents, or ask the operator to raise TOLLWAY_EDGE_MAX_BODY_BYTES."
    )


def parse_body(
    raw: bytes, endpoint: Endpoint, max_depth: int = 64, *, model: str | None = None
) -> tuple[dict[str, Any], Head]:
    """The body and its checked head; `model`, when the path named one, replaces the body's."""
    if not raw:
        raise InvalidRequest("Request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"Request body is not valid JSON: {exc.msg} at {exc.pos}.") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object.")
    if model is not None:
        body["model"] = model
    if too_deep(body, max_depth):
        raise InvalidRequest(
            f"Request body nests arrays and objects more than {max_depth} levels deep."
        )
    try:
        head = _HEADS[endpoint].model_validate(body)
    except ValidationError as exc:
        raise invalid(exc, body) from exc
    head.refuse_unserved()
    return body, head


def too_deep(value: Any, max_depth: int) -> bool:
    """Whether `value` nests containers deeper than `max_depth` (the body itself is level 1).

    Serialising a body nested a few hundred levels deep hits pydantic's recursion limit (a
    500) and the router could not decode it (a 502 after the deadline); iterative, so the check
    cannot hit a limit itself."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values() if _container(child))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if _container(child))
    return False


def _container(value: Any) -> bool:
    return isinstance(value, dict | list)


def invalid(exc: ValidationError, body: dict[str, Any]) -> InvalidRequest:
    first = exc.errors()[0]
    missing = first["type"] == "missing"
    param = _param_path(body, first["loc"], missing)
    if missing:
        return InvalidRequest(f"Missing required parameter: '{param}'.", param=param)
    return InvalidRequest(f"Invalid value for '{param}': {first['msg']}.", param=param)


def _param_path(body: Any, loc: tuple[int | str, ...], missing: bool) -> str:
    """`messages[0].role` style, following the body so pydantic's union tags are left out."""
    path = ""
    node = body
    for index, part in enumerate(loc):
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            path += f"[{part}]"
            node = node[part]
        elif isinstance(part, str) and isinstance(node, dict) and part in node:
            path += f".{part}" if path else part
            node = node[part]
        else:
            if missing and index == len(loc) - 1:
                path += f".{part}" if path else str(part)
            break
    return path
