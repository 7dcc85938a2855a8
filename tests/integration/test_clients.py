"""Real clients other than the openai Python SDK against one stack: the openai Node SDK (chat
streaming, embeddings, Responses streaming, run by `tests/clients/node/smoke.mjs`), the
anthropic TypeScript SDK (`anthropic_smoke.mjs`) and LangChain's `ChatOpenAI` and
`OpenAIEmbeddings`. What the clients hand back is checked against
OpenAI's spec; the `AzureOpenAI` client has its own module (test_azure_ingress.py)."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import SecretStr
from tests.support.anthropic_schema import validate_anthropic, validate_anthropic_event
from tests.support.node import run_node_json
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack

DEMO = "tollway-demo"
DEMO_DIMENSIONS = 8


def _node(stack: Stack, key: str, case: str) -> Any:
    env = {"TOLLWAY_BASE_URL": stack.base_url, "TOLLWAY_API_KEY": key, "TOLLWAY_MODEL": DEMO}
    return run_node_json(["smoke.mjs", case], env)


def test_node_sdk_streams_chat_with_a_usage_chunk(shared_stack: Stack, api_key: str) -> None:
    result = _node(shared_stack, api_key, "chat-stream")
    chunks = result["chunks"]
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", chunk)
    text = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks[:-1])
    assert "Stream from Node" in text
    *content, usage_chunk = chunks
    assert all(chunk["choices"] for chunk in content)
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == len(text.split())
    assembled = result["assembled"]
    validate_openai("CreateChatCompletionResponse", assembled)
    assert assembled["choices"][0]["message"]["content"] == text
    assert assembled["choices"][0]["finish_reason"] == "stop"


def _float32s(encoded: str) -> list[float]:
    raw = base64.b64decode(encoded)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def test_node_sdk_embeds_in_every_encoding(shared_stack: Stack, api_key: str) -> None:
    result = _node(shared_stack, api_key, "embeddings")
    for name in ("decoded", "floats"):
        validate_openai("CreateEmbeddingResponse", result[name])
    decoded = [item["embedding"] for item in result["decoded"]["data"]]
    floats = [item["embedding"] for item in result["floats"]["data"]]
    assert [len(vector) for vector in floats] == [DEMO_DIMENSIONS, DEMO_DIMENSIONS]
    assert floats[0] != floats[1]
    # base64 carries float32: the same vectors to float32 precision.
    assert decoded == [pytest.approx(vector, abs=1e-6) for vector in floats]
    wire = [_float32s(item["embedding"]) for item in result["base64"]["data"]]
    assert wire == [pytest.approx(vector, abs=1e-6) for vector in floats]
    assert result["floats"]["usage"]["prompt_tokens"] == 2


def test_node_sdk_streams_a_response(shared_stack: Stack, api_key: str) -> None:
    result = _node(shared_stack, api_key, "responses-stream")
    events = result["events"]
    for event in events:
        validate_openai("ResponseStreamEvent", event)
    types = [event["type"] for event in events]
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"
    assert "response.output_text.delta" in types
    text = "".join(
        event["delta"] for event in events if event["type"] == "response.output_text.delta"
    )
    assert "Respond from Node" in text
    completed = events[-1]["response"]
    validate_openai("Response", completed)
    assert completed["status"] == "completed"
    assert completed["usage"]["output_tokens"] > 0
    assert result["final_text"] == text
    validate_openai("Response", result["final"])


def test_anthropic_typescript_sdk_streams_a_message(shared_stack: Stack, api_key: str) -> None:
    env = {"TOLLWAY_EDGE_URL": shared_stack.edge_url, "TOLLWAY_API_KEY": api_key}
    result = run_node_json(
        ["anthropic_smoke.mjs", "messages-stream"], {**env, "TOLLWAY_MODEL": DEMO}
    )
    events = result["events"]
    for event in events:
        validate_anthropic_event(event)
    types = [event["type"] for event in events]
    assert types[0] == "message_start"
    assert types[-1] == "message_stop"
    text = "".join(
        event["delta"]["text"]
        for event in events
        if event["type"] == "content_block_delta" and event["delta"]["type"] == "text_delta"
    )
    assert "Stream from the anthropic SDK" in text
    [delta] = [event for event in events if event["type"] == "message_delta"]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] > 0
    final = result["final"]
    validate_anthropic("Message", final)
    assert [block["text"] for block in final["content"]] == [text]


def _chat(stack: Stack, key: str, **options: Any) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=stack.base_url, api_key=SecretStr(key), model=DEMO, max_retries=0, **options
    )


def _embeddings(stack: Stack, key: str) -> OpenAIEmbeddings:
    # Off, the client sends the text as is; on, it sends tiktoken ids for an OpenAI model.
    return OpenAIEmbeddings(
        openai_api_base=stack.base_url,
        openai_api_key=SecretStr(key),
        model=DEMO,
        check_embedding_ctx_length=False,
        max_retries=0,
    )


def test_langchain_chat_invoke(shared_stack: Stack, api_key: str) -> None:
    reply = _chat(shared_stack, api_key).invoke([HumanMessage("Hello LangChain")])
    assert isinstance(reply, AIMessage)
    assert isinstance(reply.content, str)
    assert "Hello LangChain" in reply.content
    assert reply.response_metadata["finish_reason"] == "stop"
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] == len(reply.content.split())


def test_langchain_chat_stream_with_usage(shared_stack: Stack, api_key: str) -> None:
    chunks = list(_chat(shared_stack, api_key, stream_usage=True).stream("Stream LangChain"))
    assert len(chunks) > 2
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert isinstance(merged, AIMessageChunk)
    assert isinstance(merged.content, str)
    assert "Stream LangChain" in merged.content
    assert merged.usage_metadata is not None
    assert merged.usage_metadata["output_tokens"] == len(merged.content.split())


@tool
def search_docs(query: str) -> str:
    """Search the Tollway docs."""
    return query


def test_langchain_chat_binds_a_tool(shared_stack: Stack, api_key: str) -> None:
    # The demo model calls the first tool it is offered with the user's text as `query`.
    chat = _chat(shared_stack, api_key).bind_tools([search_docs])
    reply = chat.invoke("Where is the toll booth?")
    assert isinstance(reply, AIMessage)
    [call] = reply.tool_calls
    assert call["name"] == "search_docs"
    assert call["args"] == {"query": "Where is the toll booth?"}
    assert reply.response_metadata["finish_reason"] == "tool_calls"
    assert search_docs.invoke(call["args"]) == "Where is the toll booth?"


def test_langchain_embeddings(shared_stack: Stack, api_key: str) -> None:
    embeddings = _embeddings(shared_stack, api_key)
    documents = embeddings.embed_documents(["toll", "way"])
    query = embeddings.embed_query("toll")
    assert [len(vector) for vector in documents] == [DEMO_DIMENSIONS, DEMO_DIMENSIONS]
    assert documents[0] != documents[1]
    assert query == pytest.approx(documents[0], abs=1e-6)
