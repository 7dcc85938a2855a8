"""OpenAI and every OpenAI-compatible server (Ollama, vLLM, LM Studio): near-passthrough.

The client's body goes upstream as it is, with the deployment's model name; streams always
ask for usage so every request is metered, and the router drops the usage chunk for clients
that did not ask for it. Chunks are forwarded byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tollway_common.contract import Endpoint, Usage
from tollway_common.control import Deployment
from tollway_common.errors import (
    ContextLengthExceeded,
    TollwayError,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tollway_router.adapter import Adapter, ChunkOut, HttpCall, ParsedResponse, SseEvent

PATHS = {
    Endpoint.CHAT_COMPLETIONS: "/chat/completions",
    Endpoint.COMPLETIONS: "/completions",
    Endpoint.EMBEDDINGS: "/embeddings",
}
_STREAMABLE = {Endpoint.CHAT_COMPLETIONS, Endpoint.COMPLETIONS}


@dataclass
class StreamState:
    done: bool = False


def build_request(endpoint: Endpoint, body: Mapping[str, Any], target: Deployment) -> HttpCall:
    upstream: dict[str, Any] = {**body, "model": target.model}
    stream = endpoint in _STREAMABLE and bool(body.get("stream"))
    if stream:
        options = body.get("stream_options")
        upstream["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    return HttpCall(method="POST", path=PATHS[endpoint], body=orjson.dumps(upstream), stream=stream)


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt = int(raw.get("prompt_tokens") or 0)
    completion = int(raw.get("completion_tokens") or 0)
    total = int(raw.get("total_tokens") or prompt + completion)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


def parse_response(endpoint: Endpoint, body: bytes, target: Deployment) -> ParsedResponse:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamUnavailable(
            f"Deployment '{target.name}' answered with a body that is not JSON."
        ) from exc
    if not isinstance(parsed, dict):
        raise UpstreamUnavailable(f"Deployment '{target.name}' answered with a non-object body.")
    return ParsedResponse(
        body=body,
        usage=parse_usage(parsed.get("usage")),
        upstream_model=str(parsed.get("model", "")),
    )


def new_stream_state() -> StreamState:
    return StreamState()


def parse_stream_event(event: SseEvent, state: StreamState) -> list[ChunkOut]:
    data = event.data
    if data == "[DONE]":
        state.done = True
        return []
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(chunk, dict):
        return []
    if "error" in chunk:
        error = chunk["error"] if isinstance(chunk["error"], dict) else {}
        raise UpstreamUnavailable(
            f"The upstream stream failed: {error.get('message') or 'no message given'}"
        )
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
        if isinstance(delta, dict):
            total += len(delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict):
                    total += len(function.get("arguments") or "")
        else:
            total += len(choice.get("text") or "")
    return total


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> TollwayError:
    detail = _error_detail(body)
    message = detail.get("message") or body[:200].decode("utf-8", errors="replace") or "no body"
    code = detail.get("code")
    param = detail.get("param")
    if status == 429:
        return UpstreamRateLimited(
            f"The upstream deployment is rate limited: {message}", retry_after=_retry_after(headers)
        )
    if status in (401, 403):
        return UpstreamAuthFailed(
            f"The upstream deployment refused the gateway's credential (HTTP {status}). "
            "This is a gateway configuration problem, not your key."
        )
    if status in (408, 504):
        return UpstreamTimeout(f"The upstream deployment timed out (HTTP {status}).")
    if status == 400 and code == "context_length_exceeded":
        return ContextLengthExceeded(message, param=param if isinstance(param, str) else None)
    if 400 <= status < 500:
        return UpstreamBadRequest(
            f"The upstream deployment refused the request (HTTP {status}): {message}",
            param=param if isinstance(param, str) else None,
            code=code if isinstance(code, str) else None,
        )
    return UpstreamUnavailable(f"The upstream deployment failed (HTTP {status}): {message}")


def _error_detail(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return dict(parsed["error"])
    return {}


def _retry_after(headers: Mapping[str, str]) -> float | None:
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    seconds = headers.get("retry-after")
    if seconds is not None:
        try:
            return float(seconds)
        except ValueError:
            return None
    return None


ADAPTER: Adapter[StreamState] = Adapter(
    type="openai",
    endpoints=frozenset(PATHS),
    build_request=build_request,
    parse_response=parse_response,
    new_stream_state=new_stream_state,
    parse_stream_event=parse_stream_event,
    parse_error=parse_error,
)
