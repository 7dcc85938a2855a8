"""The facts read once from a client's body, and the one place decisions are written back."""

from __future__ import annotations

from typing import Any

import pytest

from tollway_common.contract import Endpoint, RequestFacts
from tollway_edge.request_facts import estimate_prompt_tokens, read_facts, upstream_body

HI = [{"role": "user", "content": "x" * 40}]


@pytest.mark.parametrize(
    ("endpoint", "fields", "expected"),
    [
        (Endpoint.CHAT_COMPLETIONS, {}, None),
        (Endpoint.CHAT_COMPLETIONS, {"max_tokens": 50}, 50),
        (Endpoint.CHAT_COMPLETIONS, {"max_completion_tokens": 50}, 50),
        # Both go upstream and either may be honoured: the larger bounds the answer.
        (Endpoint.CHAT_COMPLETIONS, {"max_completion_tokens": 10, "max_tokens": 900}, 900),
        (Endpoint.CHAT_COMPLETIONS, {"max_completion_tokens": 900, "max_tokens": 10}, 900),
        (Endpoint.COMPLETIONS, {"max_tokens": 7}, 7),
        # Legacy completions allow 0, which bounds nothing the gateway can reserve against.
        (Endpoint.COMPLETIONS, {"max_tokens": 0}, None),
        # A field the endpoint does not have is not a bound there.
        (Endpoint.COMPLETIONS, {"max_completion_tokens": 900}, None),
        (Endpoint.EMBEDDINGS, {"max_tokens": 900}, None),
    ],
)
def test_max_tokens_is_the_largest_field_the_endpoint_honours(
    endpoint: Endpoint, fields: dict[str, Any], expected: int | None
) -> None:
    assert read_facts(endpoint, {"model": "m", "messages": HI, **fields}).max_tokens == expected


@pytest.mark.parametrize(
    ("endpoint", "fields", "answers"),
    [
        (Endpoint.CHAT_COMPLETIONS, {}, 1),
        (Endpoint.CHAT_COMPLETIONS, {"n": 3}, 3),
        (Endpoint.COMPLETIONS, {"n": 2}, 2),
        # best_of candidates are all generated, though only n come back.
        (Endpoint.COMPLETIONS, {"n": 2, "best_of": 5}, 5),
        (Endpoint.CHAT_COMPLETIONS, {"best_of": 5}, 1),
        (Endpoint.EMBEDDINGS, {"n": 5}, 1),
    ],
)
def test_answers_count_every_answer_the_upstream_writes(
    endpoint: Endpoint, fields: dict[str, Any], answers: int
) -> None:
    facts = read_facts(endpoint, {"model": "m", "messages": HI, "max_tokens": 10, **fields})
    assert facts.answers == answers


def test_the_prompt_is_estimated_once_with_the_bound() -> None:
    body = {"model": "m", "messages": HI, "max_tokens": 5}
    assert read_facts(Endpoint.CHAT_COMPLETIONS, body) == RequestFacts(
        max_tokens=5, prompt_tokens=10
    )


def test_prompt_estimate_reads_content_parts_prompts_and_inputs() -> None:
    parts = {"messages": [{"content": [{"type": "text", "text": "y" * 8}]}]}
    assert estimate_prompt_tokens(parts) == 2
    assert estimate_prompt_tokens({"prompt": "z" * 12}) == 3
    assert estimate_prompt_tokens({"input": ["a" * 4, "b" * 4]}) == 2
    assert estimate_prompt_tokens({}) == 0


@pytest.mark.parametrize(
    ("endpoint", "field"),
    [(Endpoint.CHAT_COMPLETIONS, "max_completion_tokens"), (Endpoint.COMPLETIONS, "max_tokens")],
)
def test_a_bound_decided_for_a_request_without_one_is_written_into_the_body(
    endpoint: Endpoint, field: str
) -> None:
    body: dict[str, Any] = {"model": "m", "prompt": "hi"}
    sent = upstream_body(body, endpoint, RequestFacts(), RequestFacts(max_tokens=256))
    assert sent == {"model": "m", "prompt": "hi", field: 256}
    assert body == {"model": "m", "prompt": "hi"}, "the client's body is left as it came"


def test_a_bound_the_client_sent_is_not_rewritten() -> None:
    body = {"model": "m", "messages": HI, "max_tokens": 40}
    asked = read_facts(Endpoint.CHAT_COMPLETIONS, body)
    assert upstream_body(body, Endpoint.CHAT_COMPLETIONS, asked, asked) is body


def test_a_body_nothing_was_decided_for_goes_as_it_came() -> None:
    body = {"model": "m", "messages": HI}
    facts = read_facts(Endpoint.CHAT_COMPLETIONS, body)
    assert upstream_body(body, Endpoint.CHAT_COMPLETIONS, facts, facts) is body


def test_a_token_field_the_endpoint_does_not_count_is_not_sent() -> None:
    body = {"model": "m", "prompt": "hi", "max_tokens": 5, "max_completion_tokens": 9000}
    asked = read_facts(Endpoint.COMPLETIONS, body)
    sent = upstream_body(body, Endpoint.COMPLETIONS, asked, asked)
    assert sent == {"model": "m", "prompt": "hi", "max_tokens": 5}
    assert "max_completion_tokens" in body, "the client's body is left as it came"


@pytest.mark.parametrize(
    ("endpoint", "fields", "images", "characters"),
    [
        (Endpoint.IMAGES_GENERATIONS, {"prompt": "a cat", "n": 3}, 3, 0),
        (Endpoint.IMAGES_GENERATIONS, {"prompt": "a cat"}, 1, 0),
        # A form carries n as text.
        (Endpoint.IMAGES_EDITS, {"prompt": "a cat", "n": "4"}, 4, 0),
        (Endpoint.IMAGES_VARIATIONS, {}, 1, 0),
        (Endpoint.AUDIO_SPEECH, {"input": "Hello there", "voice": "alloy"}, 0, 11),
        (Endpoint.AUDIO_TRANSCRIPTIONS, {"prompt": "names: Ann"}, 0, 0),
        (Endpoint.CHAT_COMPLETIONS, {"messages": HI, "n": 3}, 0, 0),
    ],
)
def test_images_asked_for_and_characters_to_speak_are_counted(
    endpoint: Endpoint, fields: dict[str, Any], images: int, characters: int
) -> None:
    facts = read_facts(endpoint, {"model": "m", **fields})
    assert (facts.images, facts.characters) == (images, characters)
