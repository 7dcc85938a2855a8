"""The built-in demo provider answers deterministically in valid OpenAI shapes."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
import pytest
from tests.support.openai_schema import validate_openai

from tollway_router.upstream import demo_server

CHAT: dict[str, Any] = {"model": "demo", "messages": [{"role": "user", "content": "Hi there"}]}
NOW = 1_700_000_000


def test_chat_completion_echoes_the_user_and_counts_tokens() -> None:
    body = orjson.loads(demo_server.respond("/v1/chat/completions", CHAT, NOW).body)
    validate_openai("CreateChatCompletionResponse", body)
    assert body["choices"][0]["message"]["content"] == (
        "Hello from Tollway's demo model. You said: Hi there"
    )
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 9, "total_tokens": 11}


def test_same_request_same_answer() -> None:
    first = demo_server.respond("/v1/chat/completions", CHAT, NOW)
    second = demo_server.respond("/v1/chat/completions", CHAT, NOW)
    assert first == second


def test_stream_is_valid_chunks_and_usage_when_asked() -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    reply = demo_server.respond("/v1/chat/completions", body, NOW)
    assert reply.events[-1] == b"[DONE]"
    chunks = [orjson.loads(event) for event in reply.events[:-1]]
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", chunk)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text.endswith("You said: Hi there")
    assert chunks[-1]["usage"]["completion_tokens"] == 9


def test_max_tokens_truncates_with_finish_reason_length() -> None:
    body = orjson.loads(
        demo_server.respond("/v1/chat/completions", {**CHAT, "max_tokens": 2}, NOW).body
    )
    assert body["choices"][0]["message"]["content"] == "Hello from"
    assert body["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("stream", [False, True])
def test_tools_get_a_deterministic_tool_call(stream: bool) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    reply = demo_server.respond(
        "/v1/chat/completions", {**CHAT, "tools": tools, "stream": stream}, NOW
    )
    if stream:
        chunks = [orjson.loads(event) for event in reply.events[:-1]]
        calls = [c for ch in chunks for c in ch["choices"][0]["delta"].get("tool_calls", [])]
        assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    else:
        body = orjson.loads(reply.body)
        validate_openai("CreateChatCompletionResponse", body)
        calls = body["choices"][0]["message"]["tool_calls"]
        assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert calls[0]["function"]["name"] == "lookup"
    assert orjson.loads(calls[0]["function"]["arguments"]) == {"query": "Hi there"}


def test_legacy_completion_and_embeddings_are_valid() -> None:
    completion = demo_server.respond("/v1/completions", {"model": "d", "prompt": "Hey"}, NOW)
    validate_openai("CreateCompletionResponse", orjson.loads(completion.body))
    embedding = demo_server.respond("/v1/embeddings", {"model": "d", "input": ["a", "b"]}, NOW)
    body = orjson.loads(embedding.body)
    validate_openai("CreateEmbeddingResponse", body)
    assert [item["index"] for item in body["data"]] == [0, 1]
    assert body["data"][0]["embedding"] != body["data"][1]["embedding"]


def test_unknown_path_is_an_openai_404() -> None:
    reply = demo_server.respond("/v1/nope", {}, NOW)
    assert reply.status == 404
    validate_openai("ErrorResponse", orjson.loads(reply.body))


def test_models_list_is_valid() -> None:
    body = orjson.loads(demo_server.respond("/v1/models", {}, NOW).body)
    validate_openai("ListModelsResponse", body)
    assert [model["id"] for model in body["data"]] == list(demo_server.MODELS)


def test_stream_without_include_usage_has_no_usage_chunk() -> None:
    reply = demo_server.respond("/v1/chat/completions", {**CHAT, "stream": True}, NOW)
    chunks = [orjson.loads(event) for event in reply.events[:-1]]
    assert all(chunk["choices"] and "usage" not in chunk for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_and_non_stream_tell_the_same_text() -> None:
    whole = orjson.loads(demo_server.respond("/v1/chat/completions", CHAT, NOW).body)
    reply = demo_server.respond("/v1/chat/completions", {**CHAT, "stream": True}, NOW)
    chunks = [orjson.loads(event) for event in reply.events[:-1]]
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert streamed == whole["choices"][0]["message"]["content"]
    assert len({c["id"] for c in chunks}) == 1


def test_max_completion_tokens_truncates_the_stream_too() -> None:
    body = {**CHAT, "stream": True, "max_completion_tokens": 3}
    chunks = [
        orjson.loads(e) for e in demo_server.respond("/v1/chat/completions", body).events[:-1]
    ]
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        == "Hello from Tollway's"
    )
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_no_tool_call_after_a_tool_result() -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    messages = [
        *CHAT["messages"],
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ]
    reply = demo_server.respond(
        "/v1/chat/completions", {**CHAT, "messages": messages, "tools": tools}, NOW
    )
    body = orjson.loads(reply.body)
    validate_openai("CreateChatCompletionResponse", body)
    assert body["choices"][0]["finish_reason"] == "stop"
    assert "tool_calls" not in body["choices"][0]["message"]


def test_content_parts_are_read_as_text() -> None:
    parts = [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]
    body = {**CHAT, "messages": [{"role": "user", "content": parts}]}
    reply = orjson.loads(demo_server.respond("/v1/chat/completions", body, NOW).body)
    assert reply["choices"][0]["message"]["content"].endswith("You said: Hi there")
    assert reply["usage"]["prompt_tokens"] == 2


def test_embeddings_are_deterministic_per_input() -> None:
    first = orjson.loads(demo_server.respond("/v1/embeddings", {"model": "d", "input": "a"}).body)
    second = orjson.loads(
        demo_server.respond("/v1/embeddings", {"model": "d", "input": ["b", "a"]}).body
    )
    assert first["data"][0]["embedding"] == second["data"][1]["embedding"]
    assert len(first["data"][0]["embedding"]) == demo_server.EMBEDDING_DIMENSIONS


def test_embeddings_in_base64_are_the_float32_vectors() -> None:
    # The openai Node SDK asks for base64 unless told otherwise, and decodes it so.
    floats = orjson.loads(demo_server.respond("/v1/embeddings", {"model": "d", "input": "a"}).body)
    body = {"model": "d", "input": "a", "encoding_format": "base64"}
    encoded = orjson.loads(demo_server.respond("/v1/embeddings", body).body)
    raw = base64.b64decode(encoded["data"][0]["embedding"])
    vector = list(struct.unpack(f"<{demo_server.EMBEDDING_DIMENSIONS}f", raw))
    assert vector == pytest.approx(floats["data"][0]["embedding"], abs=1e-6)
    assert encoded["usage"] == floats["usage"]


def test_legacy_completion_stream_ends_with_usage_when_asked() -> None:
    body = {
        "model": "d",
        "prompt": "Hey",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events = demo_server.respond("/v1/completions", body, NOW).events
    assert events[-1] == b"[DONE]"
    chunks = [orjson.loads(event) for event in events[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks[:-1]) == (
        "Hello from Tollway's demo model. You said: Hey"
    )
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 1, "completion_tokens": 8, "total_tokens": 9}
