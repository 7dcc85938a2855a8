"""The Messages API on Anthropic deployments: the client's body goes upstream as it came with
only the model replaced, recorded replies and streams come back byte for byte as the events
they were, and usage is read from them for metering."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support import fixtures
from tests.support.anthropic_schema import validate_anthropic_event

from tollway_common import errors
from tollway_common.contract import Endpoint, RequestFacts, Usage
from tollway_common.control import Deployment
from tollway_common.providers import Provider
from tollway_router.providers import REGISTRY, adapter_for
from tollway_router.providers.anthropic.native import NATIVE_ADAPTER, NativeStreamState
from tollway_router.upstream.sse_decoder import SseDecoder

TARGET = Deployment(
    name="d",
    provider="anthropic",
    model="claude-sonnet-4-5",
    anthropic_betas=["interleaved-thinking-*", "context-1m-2025-08-07"],
)
BODY: dict[str, Any] = {
    "model": "claude",
    "max_tokens": 1024,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "thinking": {"type": "enabled", "budget_tokens": 512},
    "messages": [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Call the tool.", "signature": "EqQBsig"},
                {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"city": "Oslo"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "4"}],
        },
    ],
    "tools": [{"type": "web_search_20250305", "name": "web_search"}],
    "metadata": {"user_id": "u-1"},
    "stream": True,
}


def test_messages_on_anthropic_use_the_native_adapter_and_chat_keeps_its_own() -> None:
    assert adapter_for(Provider.ANTHROPIC, Endpoint.MESSAGES) is NATIVE_ADAPTER
    assert adapter_for(Provider.ANTHROPIC, Endpoint.MESSAGES_COUNT_TOKENS) is NATIVE_ADAPTER
    assert (
        adapter_for(Provider.ANTHROPIC, Endpoint.CHAT_COMPLETIONS) is REGISTRY[Provider.ANTHROPIC]
    )
    assert adapter_for(Provider.OPENAI, Endpoint.CHAT_COMPLETIONS) is REGISTRY[Provider.OPENAI]


def test_the_body_goes_upstream_as_it_came_with_the_deployments_model() -> None:
    call = NATIVE_ADAPTER.build_request(Endpoint.MESSAGES, BODY, RequestFacts(), TARGET)
    assert (call.method, call.path, call.stream) == ("POST", "/v1/messages", True)
    assert orjson.loads(call.body) == {**BODY, "model": "claude-sonnet-4-5"}
    assert call.headers == {"anthropic-version": "2023-06-01"}
    assert BODY["model"] == "claude", "the client's body is left as it came"


def test_count_tokens_goes_to_its_own_path_and_never_streams() -> None:
    body = {"model": "claude", "messages": BODY["messages"], "stream": True}
    call = NATIVE_ADAPTER.build_request(
        Endpoint.MESSAGES_COUNT_TOKENS, body, RequestFacts(), TARGET
    )
    assert (call.path, call.stream) == ("/v1/messages/count_tokens", False)


@pytest.mark.parametrize(
    ("asked", "headers", "sent"),
    [
        (
            ("interleaved-thinking-2025-05-14", "files-api-2025-04-14"),
            {},
            "interleaved-thinking-2025-05-14",
        ),
        (
            ("context-1m-2025-08-07",),
            {"Anthropic-Beta": "a-1, b-2"},
            "a-1,b-2,context-1m-2025-08-07",
        ),
        (("files-api-2025-04-14",), {}, None),
        (("a-1",), {"anthropic-beta": "a-1"}, "a-1"),
    ],
)
def test_only_the_betas_the_deployment_allows_are_forwarded(
    asked: tuple[str, ...], headers: dict[str, str], sent: str | None
) -> None:
    target = TARGET.model_copy(update={"headers": headers})
    call = NATIVE_ADAPTER.build_request(Endpoint.MESSAGES, BODY, RequestFacts(betas=asked), target)
    assert call.headers.get("anthropic-beta") == sent


def test_a_deployment_allows_no_beta_unless_it_says_so() -> None:
    target = Deployment(name="d", provider="anthropic", model="m")
    facts = RequestFacts(betas=("context-1m-2025-08-07",))
    call = NATIVE_ADAPTER.build_request(Endpoint.MESSAGES, BODY, facts, target)
    assert "anthropic-beta" not in call.headers


@pytest.mark.parametrize("bad", ["Context-1M", "a b", "x" * 129, "beta\n"])
def test_allowed_betas_are_checked_when_the_deployment_is_written(bad: str) -> None:
    with pytest.raises(ValueError, match="anthropic_betas"):
        Deployment(name="d", provider="anthropic", model="m", anthropic_betas=[bad])


def test_a_reply_is_relayed_byte_for_byte_with_its_usage_read() -> None:
    raw = fixtures.load_bytes("anthropic", "thinking", "response.json")
    parsed = NATIVE_ADAPTER.parse_response(Endpoint.MESSAGES, raw, TARGET)
    assert parsed.body == raw
    assert parsed.upstream_model == "claude-sonnet-4-5-20250929"
    assert parsed.usage == Usage(prompt_tokens=380, completion_tokens=120, total_tokens=500)


def test_a_token_count_is_relayed_and_costs_nothing() -> None:
    parsed = NATIVE_ADAPTER.parse_response(
        Endpoint.MESSAGES_COUNT_TOKENS, b'{"input_tokens": 2095}', TARGET
    )
    assert (parsed.body, parsed.usage) == (b'{"input_tokens": 2095}', Usage())
    with pytest.raises(errors.UpstreamUnavailable):
        NATIVE_ADAPTER.parse_response(Endpoint.MESSAGES_COUNT_TOKENS, b"{}", TARGET)


def _replay(case: str) -> tuple[bytes, list[bytes], NativeStreamState, Usage | None]:
    raw = fixtures.load_bytes("anthropic", case, "stream.sse")
    state = NATIVE_ADAPTER.new_stream_state()
    out: list[bytes] = []
    usage = None
    for event in SseDecoder().feed(raw):
        for chunk in NATIVE_ADAPTER.parse_stream_event(event, state):
            out.append(chunk.data)
            usage = chunk.usage or usage
    return raw, out, state, usage


@pytest.mark.parametrize("case", ["text_stream", "tool_calls_stream", "thinking_stream"])
def test_a_stream_is_relayed_event_for_event(case: str) -> None:
    raw, out, state, usage = _replay(case)
    recorded = [block for block in raw.split(b"\n\n") if block.strip()]
    assert [frame.rstrip(b"\n") for frame in out] == recorded
    for frame in out:
        validate_anthropic_event(orjson.loads(frame.split(b"\ndata: ", 1)[1]))
    assert NATIVE_ADAPTER.stream_complete(state)
    assert usage is not None
    assert usage.completion_tokens > 0


def test_stream_usage_counts_cache_reads_and_writes() -> None:
    _, _, _, usage = _replay("tool_calls_stream")
    assert usage is not None
    assert (usage.cached_read_tokens, usage.cache_write_tokens) == (1024, 128)
    assert usage.prompt_tokens == 12 + 1024 + 128


def test_an_error_event_ends_the_stream_as_an_upstream_error() -> None:
    with pytest.raises(errors.UpstreamOverloaded):
        _replay("stream_error")
