"""Legacy `/v1/completions` on Claude: one user turn up, `text_completion` (and its chunks)
back, each checked against OpenAI's published schema."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.support import fixtures
from tests.support.openai_schema import validate_openai, validate_openai_request

from tollway_common.contract import Endpoint
from tollway_common.control import Deployment
from tollway_common.providers import Provider
from tollway_edge.request_facts import read_facts
from tollway_router.providers import adapter_for
from tollway_router.providers.adapter import ChunkOut
from tollway_router.providers.anthropic import ADAPTER, response
from tollway_router.upstream.sse_decoder import SseDecoder

TARGET = Deployment(name="claude", provider="anthropic", model="claude-sonnet-4-5-20250929")


def _build(body: dict[str, Any], endpoint: Endpoint = Endpoint.COMPLETIONS) -> dict[str, Any]:
    validate_openai_request(endpoint, body)
    call = ADAPTER.build_request(endpoint, body, read_facts(endpoint, body), TARGET)
    sent: dict[str, Any] = orjson.loads(call.body)
    return sent


def _replay(case: str, endpoint: Endpoint = Endpoint.COMPLETIONS) -> list[ChunkOut]:
    """The stream as the router reads it: through the adapter it picks for `endpoint`."""
    adapter = adapter_for(Provider.ANTHROPIC, endpoint)
    state = adapter.new_stream_state()
    events = SseDecoder().feed(fixtures.load_bytes("anthropic", case, "stream.sse"))
    chunks = [chunk for event in events for chunk in adapter.parse_stream_event(event, state)]
    assert adapter.stream_complete(state)
    return chunks


@pytest.mark.proves("legacy_endpoints", "anthropic")
def test_a_prompt_becomes_one_user_turn_with_the_completion_fields_mapped() -> None:
    sent = _build(
        {
            "model": "claude",
            "prompt": "Say hi",
            "max_tokens": 20,
            "temperature": 0.5,
            "stop": ["\n"],
            "user": "u-1",
        }
    )
    assert sent == {
        "model": TARGET.model,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hi"}]}],
        "max_tokens": 20,
        "temperature": 0.5,
        "stop_sequences": ["\n"],
        "metadata": {"user_id": "u-1"},
    }


@pytest.mark.proves("legacy_endpoints", "anthropic")
def test_the_answer_is_a_text_completion() -> None:
    parsed = response.parse_response(
        Endpoint.COMPLETIONS,
        fixtures.load_bytes("anthropic", "chat", "response.json"),
        TARGET,
        clock=lambda: 1731000000,
    )
    body = orjson.loads(parsed.body)
    validate_openai("CreateCompletionResponse", body)
    chat = fixtures.load_json("anthropic", "chat", "expected.json")
    assert body == {
        **chat,
        "object": "text_completion",
        "choices": [
            {
                "index": 0,
                "text": chat["choices"][0]["message"]["content"],
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
    }


def _as_published(chunk: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's schema describes the whole reply; its streamed chunks (OpenAI's own too) carry
    a null finish_reason until the last one, read here as the schema's "stop"."""
    choices = [{**c, "finish_reason": c["finish_reason"] or "stop"} for c in chunk["choices"]]
    return {**chunk, "choices": choices}


@pytest.mark.proves("legacy_endpoints", "anthropic")
@pytest.mark.proves("stream_usage", "anthropic")
def test_a_streamed_completion_is_text_completion_chunks_then_usage() -> None:
    _build({"model": "claude", "prompt": "Say hello to Oslo.", "stream": True})
    chunks = _replay("text_stream")
    bodies = [orjson.loads(chunk.data) for chunk in chunks]
    for body in bodies:
        validate_openai("CreateCompletionResponse", _as_published(body))
        assert body["object"] == "text_completion"
    *texts, finish, usage = bodies
    chat = [record["data"] for record in fixtures.load_jsonl("anthropic", "text_stream")]
    chat_text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chat if c["choices"])
    assert "".join(body["choices"][0]["text"] for body in texts) == chat_text
    assert all(body["choices"][0]["finish_reason"] is None for body in texts)
    assert finish["choices"][0] == {
        "index": 0,
        "text": "",
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert usage["choices"] == []
    assert chunks[-1].usage_only
    assert chunks[-1].usage is not None


def test_the_same_upstream_stream_is_chat_chunks_for_a_chat_request() -> None:
    first = _replay("text_stream", Endpoint.CHAT_COMPLETIONS)[0]
    assert orjson.loads(first.data)["object"] == "chat.completion.chunk"
    completion = _replay("text_stream")[0]
    assert orjson.loads(completion.data)["object"] == "text_completion"


@pytest.mark.proves("claude_capabilities", "anthropic")
def test_a_deployment_named_by_its_operator_takes_its_base_models_row() -> None:
    writer = TARGET.model_copy(update={"model": "writer", "base_model": "claude-sonnet-4-5"})
    body = {"model": "claude", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.3}
    facts = read_facts(Endpoint.CHAT_COMPLETIONS, body)
    sent = orjson.loads(ADAPTER.build_request(Endpoint.CHAT_COMPLETIONS, body, facts, writer).body)
    assert (sent["model"], sent["temperature"]) == ("writer", 0.3)
    plain = TARGET.model_copy(update={"model": "writer"})
    sent = orjson.loads(ADAPTER.build_request(Endpoint.CHAT_COMPLETIONS, body, facts, plain).body)
    assert "temperature" not in sent
