"""OpenAI's Responses API served natively (`Endpoint.RESPONSES` on OpenAI and Azure OpenAI
deployments): the client's body goes upstream as it came, with the deployment's model,
`store: false` (Tollway keeps responses itself, `tollway_router.responses`) and no
`previous_response_id` (the router has already replaced it by the conversation it names). The
reply and every stream event come back as the upstream sent them, read only for usage and
errors; the router's response session patches what Tollway answers for (`store`,
`previous_response_id`) into the response objects.

Azure serves the Responses API on its v1 path (`/openai/v1/responses`, the deployment's name as
`model`) whatever `api_version` the deployment names for chat: the dated paths never had it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

from tollway_common.anthropic_sse import frame
from tollway_common.contract import Endpoint, RequestFacts, Usage
from tollway_common.control import Deployment
from tollway_common.errors import UpstreamUnavailable
from tollway_common.providers import Provider
from tollway_router.providers import openai
from tollway_router.providers.adapter import Adapter, ChunkOut, HttpCall, ParsedResponse, SseEvent

RESPONSES_PATH = "/responses"
AZURE_RESPONSES_PATH = "/openai/v1/responses"
# The events that end a response and carry its usage; OpenAI sends exactly one of them.
CLOSING_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def upstream_input(items: Any) -> Any:
    """The input without reasoning items that carry no `encrypted_content`: with `store: false`
    the upstream cannot look such an item up by its id and refuses the whole request."""
    if not isinstance(items, list):
        return items
    return [
        item
        for item in items
        if not (
            isinstance(item, dict)
            and item.get("type") == "reasoning"
            and not item.get("encrypted_content")
        )
    ]


def build_request(
    endpoint: Endpoint, body: Mapping[str, Any], facts: RequestFacts, target: Deployment
) -> HttpCall:
    upstream = {key: value for key, value in body.items() if key != "previous_response_id"}
    upstream["model"] = target.model
    upstream["store"] = False
    if "input" in upstream:
        upstream["input"] = upstream_input(upstream["input"])
    stream = body.get("stream") is True
    return HttpCall("POST", RESPONSES_PATH, orjson.dumps(upstream), stream)


def build_azure_request(
    endpoint: Endpoint, body: Mapping[str, Any], facts: RequestFacts, target: Deployment
) -> HttpCall:
    name = target.azure_deployment or target.model
    call = build_request(endpoint, body, facts, target.model_copy(update={"model": name}))
    return replace(call, path=AZURE_RESPONSES_PATH)


def parse_usage(raw: Any) -> Usage | None:
    """A Responses `usage` object (`input_tokens`, `output_tokens` and their details)."""
    if not isinstance(raw, dict):
        return None
    prompt = _count(raw.get("input_tokens"))
    completion = _count(raw.get("output_tokens"))
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=_count(raw.get("total_tokens")) or prompt + completion,
        cached_read_tokens=_detail(raw.get("input_tokens_details"), "cached_tokens"),
        reasoning_tokens=_detail(raw.get("output_tokens_details"), "reasoning_tokens"),
    )


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


def _detail(details: Any, key: str) -> int:
    return _count(details.get(key)) if isinstance(details, dict) else 0


def _object(data: bytes | str, what: str, target: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamUnavailable(f"{target} sent {what} that is not JSON.") from exc
    if not isinstance(parsed, dict):
        raise UpstreamUnavailable(f"{target} sent {what} that is not a JSON object.")
    return parsed


def parse_response(endpoint: Endpoint, body: bytes, target: Deployment) -> ParsedResponse:
    reply = _object(body, "a response", f"Deployment '{target.name}'")
    if reply.get("object") != "response" and reply.get("error") is not None:
        raise openai.error_payload(reply["error"], "in a 200 response")
    return ParsedResponse(
        body=body,
        usage=parse_usage(reply.get("usage")),
        upstream_model=str(reply.get("model") or target.model),
    )


@dataclass
class StreamState:
    done: bool = False


def new_stream_state() -> StreamState:
    return StreamState()


def parse_stream_event(event: SseEvent, state: StreamState) -> list[ChunkOut]:
    data = event.data
    if not data.strip() or data == "[DONE]":
        return []  # keep-alives; some compatible servers end with chat's terminator
    kind = event.event
    if kind is None or kind == "error" or kind in CLOSING_EVENTS:
        payload = _object(data, "a stream event", "upstream deployment")
        kind = str(payload.get("type") or kind or "")
        if kind == "error":
            raise openai.error_payload(payload.get("error") or payload, "mid-stream")
        if kind in CLOSING_EVENTS:
            state.done = True
            response = payload.get("response")
            usage = parse_usage(response.get("usage") if isinstance(response, dict) else None)
            return [ChunkOut(data=frame(kind, data.encode()), usage=usage)]
    # A delta's size stands in for its text, used only if the stream stops before usage.
    chars = len(data) if kind.endswith(".delta") else 0
    return [ChunkOut(data=frame(kind, data.encode()), output_chars=chars)]


ADAPTER: Adapter[StreamState] = Adapter(
    type=Provider.OPENAI,
    build_request=build_request,
    parse_response=parse_response,
    new_stream_state=new_stream_state,
    parse_stream_event=parse_stream_event,
    parse_error=openai.parse_error,
    stream_complete=lambda state: state.done,
)
AZURE_ADAPTER: Adapter[StreamState] = replace(
    ADAPTER,
    type=Provider.AZURE_OPENAI,
    build_request=build_azure_request,
    auth_header=lambda secret: ("api-key", secret),
)
