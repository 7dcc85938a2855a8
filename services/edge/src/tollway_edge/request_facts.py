"""The facts about a request that policy, limits and the router act on, read once from the
client's body (`body.py` has checked it): the most tokens each answer may use, how many
answers the upstream writes, the prompt's estimated size, and what its content needs of the
model (`request_needs.py`). Checks hand back what they
decide about them; `upstream_body` is the one place that writes a decision back into the body
the router receives.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.errors import InvalidRequest
from tollway_common.usage_estimate import CHARS_PER_TOKEN
from tollway_edge.request_needs import read_needs

# Images, audio and reranking: nothing in them bounds an answer in tokens (an image's count
# is `n`, which the upstream bills per image, not per token).
MEDIA_ENDPOINTS = (
    Endpoint.IMAGES_GENERATIONS,
    Endpoint.IMAGES_EDITS,
    Endpoint.IMAGES_VARIATIONS,
    Endpoint.AUDIO_TRANSCRIPTIONS,
    Endpoint.AUDIO_TRANSLATIONS,
    Endpoint.AUDIO_SPEECH,
    Endpoint.RERANK,
)
IMAGE_ENDPOINTS = frozenset(
    {Endpoint.IMAGES_GENERATIONS, Endpoint.IMAGES_EDITS, Endpoint.IMAGES_VARIATIONS}
)
# Every field that bounds the answer on each endpoint, the one the edge fills in first. A
# client that sends several is held to the largest: the upstream may honour any of them.
TOKEN_FIELDS: dict[Endpoint, tuple[str, ...]] = {
    Endpoint.CHAT_COMPLETIONS: ("max_completion_tokens", "max_tokens"),
    Endpoint.COMPLETIONS: ("max_tokens",),
    Endpoint.EMBEDDINGS: (),
    Endpoint.MODERATIONS: (),
    **dict.fromkeys(MEDIA_ENDPOINTS, ()),
    # Anthropic requires it; a thinking budget must fit inside it (`_largest_bound`).
    Endpoint.MESSAGES: ("max_tokens",),
    Endpoint.MESSAGES_COUNT_TOKENS: (),
    Endpoint.RESPONSES: ("max_output_tokens",),
}
# Token fields other endpoints honour that this one does not: not counted here, so not sent
# either, in case an OpenAI-compatible server honours them anyway.
UNCOUNTED_FIELDS: dict[Endpoint, tuple[str, ...]] = {
    Endpoint.CHAT_COMPLETIONS: (),
    Endpoint.COMPLETIONS: ("max_completion_tokens",),
    Endpoint.EMBEDDINGS: (),
    Endpoint.MODERATIONS: (),
    **dict.fromkeys(MEDIA_ENDPOINTS, ()),
    Endpoint.MESSAGES: (),
    Endpoint.MESSAGES_COUNT_TOKENS: (),
    Endpoint.RESPONSES: (),
}
# The fields asking the upstream for several answers, each bounded by the token field: `n`,
# and on completions `best_of`, the candidates generated (and billed) to return `n` of them.
ANSWER_FIELDS: dict[Endpoint, tuple[str, ...]] = {
    Endpoint.CHAT_COMPLETIONS: ("n",),
    Endpoint.COMPLETIONS: ("n", "best_of"),
    Endpoint.EMBEDDINGS: (),
    Endpoint.MODERATIONS: (),
    **dict.fromkeys(MEDIA_ENDPOINTS, ()),
    Endpoint.MESSAGES: (),
    Endpoint.MESSAGES_COUNT_TOKENS: (),
    Endpoint.RESPONSES: (),
}
# Endpoints no one is billed for (Anthropic does not bill token counting): they count as a
# request toward request and concurrency limits, and reserve no tokens or cost.
UNBILLED = frozenset({Endpoint.MESSAGES_COUNT_TOKENS})
_MESSAGES_ENDPOINTS = frozenset({Endpoint.MESSAGES, Endpoint.MESSAGES_COUNT_TOKENS})
# The most `anthropic-beta` values one request may name, and the longest one.
MAX_BETAS = 32
MAX_BETA_LENGTH = 128
_BETA_NAME = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_BETA_LENGTH}}}\Z")


def writes_tokens(endpoint: Endpoint) -> bool:
    """Whether the endpoint answers in generated tokens (embeddings and moderations do not):
    only such an answer streams, and only its token bound is capped, filled in and reserved."""
    return bool(TOKEN_FIELDS[endpoint])


def read_facts(
    endpoint: Endpoint, body: dict[str, Any], beta_header: str | None = None
) -> RequestFacts:
    """The facts of `body`; on the Messages endpoints also the `anthropic-beta` values the
    client sent (`beta_header`), which the router forwards where the deployment allows them."""
    if endpoint in _MESSAGES_ENDPOINTS:
        return RequestFacts(
            max_tokens=_largest_bound(endpoint, body),
            prompt_tokens=_estimate_messages_tokens(body),
            betas=read_betas(beta_header),
            needs=read_needs(endpoint, body),
        )
    if endpoint is Endpoint.RESPONSES:
        return RequestFacts(
            max_tokens=_largest_bound(endpoint, body),
            prompt_tokens=_estimate_responses_tokens(body),
            needs=read_needs(endpoint, body),
        )
    return RequestFacts(
        max_tokens=_largest_bound(endpoint, body),
        answers=_largest(body, ANSWER_FIELDS[endpoint]) or 1,
        prompt_tokens=estimate_prompt_tokens(body),
        images=_images(endpoint, body),
        characters=_spoken(endpoint, body),
        needs=read_needs(endpoint, body),
    )


def _images(endpoint: Endpoint, body: dict[str, Any]) -> int:
    """The images an image request asks for: `n`, a number in JSON or its text in a form
    (`body.py` and `forms.py` have checked it), one when absent."""
    if endpoint not in IMAGE_ENDPOINTS:
        return 0
    n = body.get("n")
    if isinstance(n, str) and n.strip().isdigit():
        return int(n)
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1


def _spoken(endpoint: Endpoint, body: dict[str, Any]) -> int:
    text = body.get("input")
    return len(text) if endpoint is Endpoint.AUDIO_SPEECH and isinstance(text, str) else 0


def _largest_bound(endpoint: Endpoint, body: dict[str, Any]) -> int | None:
    # A bound of 0 (legacy completions allow it) counts as none, so a cap or default replaces it.
    bound = _largest(body, TOKEN_FIELDS[endpoint])
    if endpoint is Endpoint.MESSAGES:
        # Claude's thinking budget lives inside max_tokens; one larger (which Anthropic
        # refuses) still counts, so no cap is checked against less than the client asked for.
        thinking = body.get("thinking")
        budget = _largest(thinking, ("budget_tokens",)) if isinstance(thinking, dict) else None
        bound = max(bound or 0, budget or 0) or None
    return bound


def read_betas(header: str | None) -> tuple[str, ...]:
    """The comma-separated `anthropic-beta` values, checked for count and size."""
    if not header:
        return ()
    values = tuple(value.strip() for value in header.split(",") if value.strip())
    if len(values) > MAX_BETAS or not all(_BETA_NAME.match(value) for value in values):
        raise InvalidRequest(
            f"The anthropic-beta header may name at most {MAX_BETAS} betas, each of at most "
            f"{MAX_BETA_LENGTH} letters, digits, '-', '.' and '_', separated by commas.",
            param="anthropic-beta",
        )
    return values


def _largest(body: dict[str, Any], fields: tuple[str, ...]) -> int | None:
    """The largest positive whole number among `fields` (`body.py` has refused other types)."""
    values = [
        value
        for name in fields
        if isinstance(value := body.get(name), int) and not isinstance(value, bool) and value > 0
    ]
    return max(values, default=None)


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    text = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            text += len(content)
        elif isinstance(content, list):
            text += sum(
                len(str(part.get("text", ""))) for part in content if isinstance(part, dict)
            )
    for key in ("prompt", "input", "query", "documents"):
        value = body.get(key)
        if isinstance(value, str):
            text += len(value)
        elif isinstance(value, list):
            text += sum(len(str(item)) for item in value)
    return max(1, text // CHARS_PER_TOKEN) if text else 0


def _estimate_messages_tokens(body: dict[str, Any]) -> int:
    """A Messages prompt: the system prompt, every turn's blocks and the tool definitions."""
    text = sum(_chars(body.get(key)) for key in ("system", "messages", "tools"))
    return max(1, text // CHARS_PER_TOKEN) if text else 0


def _estimate_responses_tokens(body: dict[str, Any]) -> int:
    """A Responses prompt: `instructions` and `input` (a string, or items whose text parts,
    tool call arguments and tool outputs reach the model). Earlier turns named by
    `previous_response_id` are the router's to add; the estimate cannot see them."""
    text = sum(_response_chars(body.get(key)) for key in ("instructions", "input"))
    return max(1, text // CHARS_PER_TOKEN) if text else 0


# The item and part fields of a Responses input whose text reaches the model.
_RESPONSE_TEXT_FIELDS = ("text", "content", "output", "arguments", "summary")


def _response_chars(node: Any) -> int:
    if isinstance(node, str):
        return len(node)
    if isinstance(node, list):
        return sum(_response_chars(item) for item in node)
    if isinstance(node, dict):
        return sum(_response_chars(node[key]) for key in _RESPONSE_TEXT_FIELDS if key in node)
    return 0


# The block fields whose text reaches the model; the rest (ids, signatures, base64 data,
# cache_control) would make the estimate count what the model never reads as text.
_TEXT_FIELDS = ("text", "thinking", "content", "name", "description")
_JSON_FIELDS = ("input", "input_schema")


def _chars(node: Any) -> int:
    if isinstance(node, str):
        return len(node)
    if isinstance(node, list):
        return sum(_chars(item) for item in node)
    if not isinstance(node, dict):
        return 0
    text = sum(_chars(node[key]) for key in _TEXT_FIELDS if key in node)
    return text + sum(len(orjson.dumps(node[key])) for key in _JSON_FIELDS if key in node)


def bounded(facts: RequestFacts, max_tokens: int) -> RequestFacts:
    """`facts` with the bound a check decided for a request that named none."""
    return facts.model_copy(update={"max_tokens": max_tokens})


def upstream_body(
    body: dict[str, Any], endpoint: Endpoint, asked: RequestFacts, decided: RequestFacts
) -> dict[str, Any]:
    """The body to send: the client's, with the bound the checks `decided` written into the
    endpoint's first token field when the client `asked` for none, and without the token
    fields the endpoint does not count. The client's dict is left as it came."""
    uncounted = [name for name in UNCOUNTED_FIELDS[endpoint] if name in body]
    fill = asked.max_tokens is None and decided.max_tokens is not None
    if not uncounted and not fill:
        return body
    sent = {name: value for name, value in body.items() if name not in uncounted}
    if fill:
        sent[TOKEN_FIELDS[endpoint][0]] = decided.max_tokens
    return sent
