"""Generated Messages requests (hypothesis, drawn from Anthropic's published spec) through the
Messages -> chat translation: each gives a chat request OpenAI's spec accepts, or a client error
(InvalidRequest, a 400) naming what chat cannot carry. Nothing else, so never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.anthropic_schema import _SPEC as ANTHROPIC_SPEC
from tests.support.anthropic_schema import validate_anthropic_request
from tests.support.messages_over_chat import chat_request
from tests.support.schema_strategies import SchemaStrategies

from tollway_common.errors import InvalidRequest
from tollway_common.providers import Provider
from tollway_router.providers import REGISTRY

SPEC = ANTHROPIC_SPEC.registry().contents(ANTHROPIC_SPEC.uri)
OPENAI = REGISTRY[Provider.OPENAI]
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# What only Anthropic's servers can read: left out of the narrowed spec below.
ANTHROPIC_ONLY = frozenset(
    {
        "RequestSearchResultBlock",
        "RequestServerToolUseBlock",
        "RequestWebSearchToolResultBlock",
        "RequestWebFetchToolResultBlock",
        "RequestCodeExecutionToolResultBlock",
        "RequestBashCodeExecutionToolResultBlock",
        "RequestTextEditorCodeExecutionToolResultBlock",
        "RequestToolSearchToolResultBlock",
        "RequestContainerUploadBlock",
        "RequestToolReferenceBlock",
        "Base64PDFSource",
        "URLPDFSource",
    }
)
# The client errors a request chat can carry may still earn: a tool_choice naming no tool, or
# a conversation with nothing but thinking in it.
CLIENT_MISTAKES = {"tool_choice.name", "messages"}


def _whole_spec() -> st.SearchStrategy[Any]:
    return SchemaStrategies(SPEC).named("CreateMessageParams")


def _chat_carriable() -> st.SearchStrategy[Any]:
    """Requests whose every field chat can carry: client tools, up to four stop sequences,
    user turns of text, images, text documents and tool results, assistant turns of text,
    tool calls and thinking."""
    narrow = SchemaStrategies(SPEC, exclude=ANTHROPIC_ONLY, max_depth=4)

    def turn(role: str, *blocks: str) -> st.SearchStrategy[Any]:
        block = st.one_of([narrow.named(name) for name in blocks])
        content = st.text(max_size=12) | st.lists(block, max_size=3)
        return st.fixed_dictionaries({"role": st.just(role), "content": content})

    user = turn(
        "user", "RequestTextBlock", "RequestImageBlock", "RequestDocumentBlock",
        "RequestToolResultBlock",
    )  # fmt: skip
    assistant = turn(
        "assistant", "RequestTextBlock", "RequestToolUseBlock", "RequestThinkingBlock",
        "RequestRedactedThinkingBlock",
    )  # fmt: skip
    overrides = {
        "CreateMessageParams": {
            "messages": st.lists(user | assistant, min_size=1, max_size=4),
            "tools": {"type": "array", "items": {"$ref": "#/components/schemas/Tool"}},
            "stop_sequences": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
        }
    }
    return SchemaStrategies(SPEC, exclude=ANTHROPIC_ONLY, max_depth=4, overrides=overrides).named(
        "CreateMessageParams"
    )


def _translated(body: dict[str, Any]) -> dict[str, Any] | InvalidRequest:
    """The chat request (checked against OpenAI's spec), or the client error it earned."""
    try:
        return chat_request(OPENAI, body)
    except InvalidRequest as refused:
        return refused


@pytest.mark.proves("messages_generated", "openai")
@PROPERTY
@given(body=_whole_spec())
def test_any_request_the_spec_allows_translates_or_is_refused_as_a_client_error(
    body: dict[str, Any],
) -> None:
    outcome = _translated(body)
    if isinstance(outcome, InvalidRequest):
        assert outcome.status == 400
        assert outcome.param


@pytest.mark.proves("messages_generated", "openai")
@PROPERTY
@given(body=_chat_carriable())
def test_a_request_chat_can_carry_translates_keeping_every_tool_call_and_result(
    body: dict[str, Any],
) -> None:
    validate_anthropic_request(body)
    chat = _translated(body)
    if isinstance(chat, InvalidRequest):
        assert chat.param in CLIENT_MISTAKES, chat.message
        return
    blocks = [
        block
        for message in body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
    ]
    sent = chat["messages"]
    calls = [call for message in sent for call in message.get("tool_calls") or []]
    assert len(calls) == sum(block["type"] == "tool_use" for block in blocks)
    results = [message for message in sent if message["role"] == "tool"]
    assert len(results) == sum(block["type"] == "tool_result" for block in blocks)
