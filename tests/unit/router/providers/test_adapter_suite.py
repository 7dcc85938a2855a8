"""What every provider adapter must do, run against each one in the registry.

Each provider replays its own recorded traffic (`tests/fixtures/providers/<type>/`); the
`fake` provider's comes from the demo server it wraps. A provider that cannot do something
declares it in `SUITE_LACKS` (tests/support/features.py) with the reason, and that pair is not
run; a provider with neither a recording nor a declaration fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.support import fixtures
from tests.support.features import SUITE_LACKS
from tests.support.openai_schema import validate_openai

from tollway_common import errors, retry_after
from tollway_common.contract import Endpoint
from tollway_common.control import Deployment
from tollway_common.providers import FACTS, Provider
from tollway_edge.request_facts import read_facts
from tollway_router import providers
from tollway_router.providers import REGISTRY
from tollway_router.providers.adapter import Adapter, ChunkOut, HttpCall
from tollway_router.upstream import demo_server
from tollway_router.upstream.sse_decoder import SseDecoder

PROVIDERS_DIR = Path(providers.__file__).parent
# What every provider shares: the registry, the adapter interface and the error ladder.
# Not providers: the interface, the error ladder, and the helpers of the OpenAI wire that
# OpenAI and Azure OpenAI share (multipart forms, the media endpoints' answers).
SHARED_MODULES = {"__init__", "adapter", "errors", "multipart", "openai_media"}
# A provider is a module `<type>.py` or, once it outgrows one file, a package `<type>/`.
PROVIDER_MODULES = {p.stem for p in PROVIDERS_DIR.glob("*.py") if p.stem not in SHARED_MODULES} | {
    p.parent.name for p in PROVIDERS_DIR.glob("*/__init__.py")
}
FORBIDDEN_IMPORTS = {"httpx", "nats", "redis", "asyncio", "anthropic", "socket"}
CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hello"}], "stream": True}
TOOLS_CHAT = {
    **CHAT,
    "messages": [{"role": "user", "content": "Weather in Oslo?"}],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ],
}
ERROR_BODY = b'{"error": {"message": "boom", "type": "x", "param": null, "code": null}}'


def _providers(feature: str) -> list[Provider]:
    return sorted(name for name in REGISTRY if feature not in SUITE_LACKS.get(name, {}))


def _adapters(feature: str) -> pytest.MarkDecorator:
    """Run the test once per provider that does not declare it lacks `feature`."""
    return pytest.mark.parametrize(
        "adapter", [REGISTRY[name] for name in _providers(feature)], ids=_providers(feature)
    )


def _target(adapter: Adapter[object]) -> Deployment:
    return Deployment(name="d", provider=adapter.type, model="upstream-model")


def test_every_provider_module_exports_a_registered_adapter() -> None:
    assert set(REGISTRY) == PROVIDER_MODULES


@pytest.mark.parametrize(
    "path",
    sorted(PROVIDERS_DIR.rglob("*.py")),
    ids=lambda p: str(p.relative_to(PROVIDERS_DIR)),
)
def test_provider_modules_do_no_io(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        assert not {name.split(".")[0] for name in names} & FORBIDDEN_IMPORTS, path


def _build(adapter: Adapter[object], body: dict[str, Any]) -> HttpCall:
    """The call for `body` with the facts an edge sends along with it."""
    facts = read_facts(Endpoint.CHAT_COMPLETIONS, body)
    return adapter.build_request(Endpoint.CHAT_COMPLETIONS, body, facts, _target(adapter))


def _recorded(adapter: Adapter[object], case: str, request: dict[str, object]) -> bytes:
    """The provider's recorded `<case>.stream.sse`; the `fake` provider's stream is what its
    demo server answers to `request`."""
    recorded = fixtures.path(adapter.type, case, "stream.sse")
    if recorded.exists():
        return recorded.read_bytes()
    assert adapter.type == "fake", f"{adapter.type} has no {case} recording and declares no lack"
    call = _build(adapter, request)
    reply = demo_server.respond(call.path, orjson.loads(call.body))
    return demo_server.sse_bytes(reply.events)


def _replay(adapter: Adapter[object], case: str, request: dict[str, object]) -> list[ChunkOut]:
    state = adapter.new_stream_state()
    chunks = [
        chunk
        for event in SseDecoder().feed(_recorded(adapter, case, request))
        for chunk in adapter.parse_stream_event(event, state)
    ]
    assert adapter.stream_complete(state), "the recorded stream reached its end"
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", orjson.loads(chunk.data))
    return chunks


def _choices(chunks: list[ChunkOut]) -> list[dict[str, Any]]:
    return [choice for chunk in chunks for choice in orjson.loads(chunk.data)["choices"]]


def _usage_chunks(chunks: list[ChunkOut]) -> list[ChunkOut]:
    return [chunk for chunk in chunks if chunk.usage_only and chunk.usage is not None]


@pytest.mark.parametrize(
    "adapter", [REGISTRY[name] for name in sorted(REGISTRY)], ids=sorted(REGISTRY)
)
def test_chat_stream_request_is_a_stream(adapter: Adapter[object]) -> None:
    assert Endpoint.CHAT_COMPLETIONS in FACTS[adapter.type].endpoints
    assert _build(adapter, CHAT).stream


@pytest.mark.parametrize(
    ("adapter", "endpoint"),
    [
        (providers.adapter_for(p, e), e)
        for p in sorted(REGISTRY)
        for e in sorted(FACTS[p].endpoints)
    ],
    ids=lambda v: str(getattr(v, "type", v)),
)
def test_every_endpoint_a_provider_serves_builds_a_request(
    adapter: Adapter[object], endpoint: Endpoint
) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "input": "Hi"}
    request = {**body, "prompt": "Hi"}
    call = adapter.build_request(endpoint, request, read_facts(endpoint, request), _target(adapter))
    assert call.method == "POST"


@pytest.mark.proves("suite_text_stream")
@_adapters("suite_text_stream")
def test_text_stream_gives_valid_chunks_one_id_and_the_role_first(
    adapter: Adapter[object],
) -> None:
    chunks = _replay(adapter, "text_stream", CHAT)
    assert sum(chunk.output_chars for chunk in chunks) > 0
    bodies = [orjson.loads(chunk.data) for chunk in chunks]
    assert len({body["id"] for body in bodies}) == 1
    assert bodies[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(str(c["delta"].get("content") or "") for c in _choices(chunks))
    assert text


@pytest.mark.proves("suite_tool_call_stream")
@_adapters("suite_tool_call_stream")
def test_tool_call_stream_gives_stable_indexes_ids_and_arguments_that_parse(
    adapter: Adapter[object],
) -> None:
    chunks = _replay(adapter, "tool_calls_stream", TOOLS_CHAT)
    calls: dict[int, dict[str, str]] = {}
    for choice in _choices(chunks):
        for call in choice["delta"].get("tool_calls") or []:
            entry = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
            if call.get("id"):
                assert not entry["id"], "a tool call's id comes once, in its first delta"
                entry["id"] = call["id"]
                entry["name"] = call["function"]["name"]
            entry["arguments"] += call["function"].get("arguments") or ""
    assert calls, "the recording calls a tool"
    assert sorted(calls) == list(range(len(calls))), "indexes count tool calls from 0"
    assert len({entry["id"] for entry in calls.values()}) == len(calls)
    for entry in calls.values():
        assert entry["name"]
        assert isinstance(orjson.loads(entry["arguments"]), dict)
    finishes = [c["finish_reason"] for c in _choices(chunks) if c["finish_reason"]]
    assert finishes == ["tool_calls"]


@pytest.mark.proves("suite_usage")
@_adapters("suite_usage")
def test_usage_is_present_in_streams_and_responses(adapter: Adapter[object]) -> None:
    [usage_chunk] = _usage_chunks(_replay(adapter, "text_stream", CHAT))
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.total_tokens > 0
    assert orjson.loads(usage_chunk.data)["usage"]["total_tokens"] == usage_chunk.usage.total_tokens
    recorded = fixtures.path(adapter.type, "chat", "response.json")
    if recorded.exists():
        raw = recorded.read_bytes()
    else:
        body = {**CHAT, "stream": False}
        call = _build(adapter, body)
        raw = demo_server.respond(call.path, orjson.loads(call.body)).body
    parsed = adapter.parse_response(Endpoint.CHAT_COMPLETIONS, raw, _target(adapter))
    completion = orjson.loads(parsed.body)
    validate_openai("CreateChatCompletionResponse", completion)
    assert parsed.usage is not None
    assert completion["usage"]["total_tokens"] == parsed.usage.total_tokens > 0


@pytest.mark.proves("suite_empty_choices")
@_adapters("suite_empty_choices")
def test_a_reply_without_choices_or_content_gives_valid_chunks_and_no_text(
    adapter: Adapter[object],
) -> None:
    chunks = _replay(adapter, "empty", CHAT)
    assert sum(chunk.output_chars for chunk in chunks) == 0
    assert all(not c["delta"].get("content") for c in _choices(chunks))
    assert [c["finish_reason"] for c in _choices(chunks) if c["finish_reason"]] == ["stop"]
    assert len(_usage_chunks(chunks)) == 1


# One ladder for every provider (providers/errors.py): a status means the same from each.
LADDER = [
    (400, errors.UpstreamBadRequest),
    (401, errors.UpstreamAuthFailed),
    (403, errors.UpstreamAuthFailed),
    (404, errors.UpstreamBadRequest),
    (408, errors.UpstreamTimeout),
    (413, errors.PayloadTooLarge),
    (429, errors.UpstreamRateLimited),
    (500, errors.UpstreamUnavailable),
    (502, errors.UpstreamUnavailable),
    (503, errors.UpstreamUnavailable),
    (529, errors.UpstreamOverloaded),
]


@pytest.mark.proves("suite_errors")
@_adapters("suite_errors")
@pytest.mark.parametrize(("status", "expected"), LADDER)
def test_error_statuses_map_to_the_taxonomy(
    adapter: Adapter[object], status: int, expected: type[errors.TollwayError]
) -> None:
    error = adapter.parse_error(status, {"retry-after": "7"}, ERROR_BODY)
    assert type(error) is expected
    assert error.status != 401, "the client's key is fine; only ours was refused"
    validate_openai("ErrorResponse", {"error": error.body().model_dump()})


# Also 402 and 422, and 409 and 415, where the two copies of the ladder once parted.
@pytest.mark.parametrize("status", sorted({status for status, _ in LADDER} | {402, 409, 415, 422}))
def test_every_adapter_gives_the_same_error_for_a_status(status: int) -> None:
    def wire(adapter: Adapter[object]) -> tuple[object, ...]:
        error = adapter.parse_error(status, {"retry-after": "7"}, ERROR_BODY)
        body = error.body()
        return type(error), error.status, body.type, body.code, body.param, error.headers()

    given = {name: wire(REGISTRY[name]) for name in _providers("suite_errors")}
    assert given == dict.fromkeys(given, wire(REGISTRY[Provider.OPENAI]))


@pytest.mark.proves("suite_errors")
@_adapters("suite_errors")
def test_rate_limit_passes_retry_after_on(adapter: Adapter[object]) -> None:
    assert adapter.parse_error(429, {"retry-after": "7"}, ERROR_BODY).retry_after == 7


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Fri, 01 Jan 2100 00:00:00 GMT", retry_after.MAX_S),
        ("1e9", retry_after.MAX_S),
        ("inf", None),
        ("Infinity", None),
        ("nan", None),
        ("-1", None),
    ],
)
@_adapters("suite_errors")
def test_every_adapter_reads_retry_after_with_the_one_parser(
    adapter: Adapter[object], value: str, expected: float | None
) -> None:
    error = adapter.parse_error(429, {"retry-after": value}, ERROR_BODY)
    assert error.retry_after == expected
    rendered = error.headers().get("retry-after")
    assert rendered == (None if expected is None else str(round(expected)))
