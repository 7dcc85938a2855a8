"""OpenAI and every OpenAI-compatible server (Ollama, vLLM, LM Studio): near-passthrough.

The client's body goes upstream as it is, with the deployment's model name; streams always
ask for usage so every request is metered, and the router drops the usage chunk for clients
that did not ask for it. Responses and chunks are forwarded byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tollway_common.contract import Endpoint, RequestFacts, Usage
from tollway_common.control import Deployment
from tollway_common.errors import TollwayError, UpstreamUnavailable
from tollway_common.forms import FORM_ENDPOINTS
from tollway_common.providers import Provider
from tollway_router.providers import multipart, openai_media
from tollway_router.providers.adapter import Adapter, ChunkOut, HttpCall, ParsedResponse, SseEvent
from tollway_router.providers.errors import ErrorDetail, classify, from_response

PATHS = {
    Endpoint.CHAT_COMPLETIONS: "/chat/completions",
    Endpoint.COMPLETIONS: "/completions",
    Endpoint.EMBEDDINGS: "/embeddings",
    Endpoint.MODERATIONS: "/moderations",
    Endpoint.IMAGES_GENERATIONS: "/images/generations",
    Endpoint.IMAGES_EDITS: "/images/edits",
    Endpoint.IMAGES_VARIATIONS: "/images/variations",
    Endpoint.AUDIO_TRANSCRIPTIONS: "/audio/transcriptions",
    Endpoint.AUDIO_TRANSLATIONS: "/audio/translations",
    Endpoint.AUDIO_SPEECH: "/audio/speech",
    # Not OpenAI's: the rerank endpoint of OpenAI-compatible servers (vLLM, Jina).
    Endpoint.RERANK: "/rerank",
}
_STREAMABLE = {Endpoint.CHAT_COMPLETIONS, Endpoint.COMPLETIONS}
# The endpoints that report usage in OpenAI's token fields (`prompt_tokens`, ...); the
# media and rerank endpoints have their own (`openai_media.answer_usage`).
_TOKEN_ENDPOINTS = frozenset(
    {Endpoint.CHAT_COMPLETIONS, Endpoint.COMPLETIONS, Endpoint.EMBEDDINGS, Endpoint.MODERATIONS}
)
# An error inside a 200 (stream event or body) has no HTTP status; infer one from its type.
_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "tokens": 429,
    "requests": 429,
    "server_error": 500,
}
_CODE_STATUS = {"context_length_exceeded": 400, "rate_limit_exceeded": 429, "invalid_api_key": 401}


@dataclass
class StreamState:
    done: bool = False


def build_request(
    endpoint: Endpoint, body: Mapping[str, Any], facts: RequestFacts, target: Deployment
) -> HttpCall:
    upstream: dict[str, Any] = {**body, "model": target.model}
    stream = endpoint in _STREAMABLE and bool(body.get("stream"))
    if stream:
        options = body.get("stream_options")
        upstream["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    relay = openai_media.relays(endpoint, body)
    if endpoint in FORM_ENDPOINTS:
        form, content_type = multipart.encode(upstream)
        return HttpCall(
            method="POST",
            path=PATHS[endpoint],
            body=form,
            stream=False,
            headers={"content-type": content_type},
            relay=relay,
        )
    return HttpCall(
        method="POST", path=PATHS[endpoint], body=orjson.dumps(upstream), stream=stream, relay=relay
    )


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt = _count(raw.get("prompt_tokens"))
    completion = _count(raw.get("completion_tokens"))
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=_count(raw.get("total_tokens")) or prompt + completion,
        cached_read_tokens=_detail_count(raw.get("prompt_tokens_details"), "cached_tokens"),
        reasoning_tokens=_detail_count(raw.get("completion_tokens_details"), "reasoning_tokens"),
    )


def _count(value: Any) -> int:
    # bool is an int subclass; a count that is a bool (or a string) is garbage, not 0/1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


def _detail_count(details: Any, key: str) -> int:
    return _count(details.get(key)) if isinstance(details, dict) else 0


def parse_response(endpoint: Endpoint, body: bytes, target: Deployment) -> ParsedResponse:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamUnavailable(
            f"Deployment '{target.name}' answered with a body that is not JSON."
        ) from exc
    if not isinstance(parsed, dict):
        raise UpstreamUnavailable(f"Deployment '{target.name}' answered with a non-object body.")
    if parsed.get("error") is not None:
        raise error_payload(parsed["error"], "in a 200 response")
    usage = (
        parse_usage(parsed.get("usage"))
        if endpoint in _TOKEN_ENDPOINTS
        else openai_media.answer_usage(endpoint, parsed)
    )
    return ParsedResponse(
        body=body,
        usage=usage,
        upstream_model=str(parsed.get("model") or ""),
    )


def stream_complete(state: StreamState) -> bool:
    return state.done


def new_stream_state() -> StreamState:
    return StreamState()


def parse_stream_event(event: SseEvent, state: StreamState) -> list[ChunkOut]:
    data = event.data
    if data == "[DONE]":
        state.done = True
        return []
    if not data.strip():
        return []  # some proxies keep the connection alive with empty `data:` lines
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamUnavailable(
            f"upstream deployment sent a stream event that is not JSON: {data[:120]!r}"
        ) from exc
    if not isinstance(chunk, dict):
        raise UpstreamUnavailable(
            f"upstream deployment sent a stream event that is not an object: {data[:120]!r}"
        )
    if chunk.get("error") is not None:
        raise error_payload(chunk["error"], "mid-stream")
    choices = chunk.get("choices") or []
    usage = parse_usage(chunk.get("usage"))
    return [
        ChunkOut(
            data=data.encode(),
            usage=usage,
            usage_only=not choices and usage is not None,
            output_chars=_output_chars(choices),
        )
    ]


def _output_chars(choices: list[Any]) -> int:
    total = 0
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            total += _length(choice.get("text"))  # legacy completions
            continue
        total += _length(delta.get("content")) + _length(delta.get("refusal"))
        # vLLM, DeepSeek and Ollama stream reasoning as its own delta field.
        total += _length(delta.get("reasoning_content")) + _length(delta.get("reasoning"))
        for call in delta.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                total += _length(function.get("arguments"))
    return total


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> TollwayError:
    return from_response(status, headers, _detail(_error_object(body)), "upstream deployment")


def error_payload(error: Any, where: str) -> TollwayError:
    """The error an `{"error": ...}` object sent with HTTP 200 stands for (no status to read)."""
    detail = _normalise(error)
    code, kind = detail.get("code"), detail.get("type")
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600:
        status = code  # vLLM puts the HTTP status in `code`
    else:
        status = _CODE_STATUS.get(str(code), _TYPE_STATUS.get(str(kind), 500))
    return classify(status, _detail(detail), f"upstream deployment sent an error {where}")


def _detail(error: Mapping[str, Any]) -> ErrorDetail:
    code, param = error.get("code"), error.get("param")
    return ErrorDetail(
        message=str(error.get("message") or "no message given"),
        code=code if isinstance(code, str) else None,
        param=param if isinstance(param, str) else None,
    )


def _error_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        if parsed.get("error") is not None:
            return _normalise(parsed["error"])
        if isinstance(parsed.get("detail"), str):  # FastAPI-based servers
            return {"message": parsed["detail"]}
        if isinstance(parsed.get("message"), str):
            return {"message": parsed["message"]}
    snippet = body[:200].decode("utf-8", errors="replace").strip()
    return {"message": snippet or "empty body"}


def _normalise(error: Any) -> dict[str, Any]:
    if isinstance(error, dict):
        return error
    return {"message": str(error)}  # Ollama: {"error": "model 'x' not found"}


ADAPTER: Adapter[StreamState] = Adapter(
    type=Provider.OPENAI,
    build_request=build_request,
    parse_response=parse_response,
    new_stream_state=new_stream_state,
    parse_stream_event=parse_stream_event,
    parse_error=parse_error,
    stream_complete=stream_complete,
    relayed_usage=openai_media.relayed_usage,
)
