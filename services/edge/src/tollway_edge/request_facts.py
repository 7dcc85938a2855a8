"""The facts about a request that policy, limits and the router act on, read once from the
client's body (`body.py` has checked it): the most tokens each answer may use, how many
answers the upstream writes, and the prompt's estimated size. Checks hand back what they
decide about them; `upstream_body` is the one place that writes a decision back into the body
the router receives.
"""

from __future__ import annotations

from typing import Any

from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.usage_estimate import CHARS_PER_TOKEN

# Every field that bounds the answer on each endpoint, the one the edge fills in first. A
# client that sends several is held to the largest: the upstream may honour any of them.
TOKEN_FIELDS: dict[Endpoint, tuple[str, ...]] = {
    Endpoint.CHAT_COMPLETIONS: ("max_completion_tokens", "max_tokens"),
    Endpoint.COMPLETIONS: ("max_tokens",),
    Endpoint.EMBEDDINGS: (),
    Endpoint.MODERATIONS: (),
}
# Token fields other endpoints honour that this one does not: not counted here, so not sent
# either, in case an OpenAI-compatible server honours them anyway.
UNCOUNTED_FIELDS: dict[Endpoint, tuple[str, ...]] = {
    Endpoint.CHAT_COMPLETIONS: (),
    Endpoint.COMPLETIONS: ("max_completion_tokens",),
    Endpoint.EMBEDDINGS: (),
    Endpoint.MODERATIONS: (),
}
# The fields asking the upstream for several answers, each bounded by the token field: `n`,
# and on completions `best_of`, the candidates generated (and billed) to return `n` of them.
ANSWER_FIELDS: dict[Endpoint, tuple[str, ...]] = {
    Endpoint.CHAT_COMPLETIONS: ("n",),
    Endpoint.COMPLETIONS: ("n", "best_of"),
    Endpoint.EMBEDDINGS: (),
    Endpoint.MODERATIONS: (),
}


def writes_tokens(endpoint: Endpoint) -> bool:
    """Whether the endpoint answers in generated tokens (embeddings and moderations do not):
    only such an answer streams, and only its token bound is capped, filled in and reserved."""
    return bool(TOKEN_FIELDS[endpoint])


def read_facts(endpoint: Endpoint, body: dict[str, Any]) -> RequestFacts:
    return RequestFacts(
        max_tokens=_largest_bound(endpoint, body),
        answers=_largest(body, ANSWER_FIELDS[endpoint]) or 1,
        prompt_tokens=estimate_prompt_tokens(body),
    )


def _largest_bound(endpoint: Endpoint, body: dict[str, Any]) -> int | None:
    # A bound of 0 (legacy completions allow it) counts as none, so a cap or default replaces it.
    return _largest(body, TOKEN_FIELDS[endpoint])


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
    for key in ("prompt", "input"):
        value = body.get(key)
        if isinstance(value, str):
            text += len(value)
        elif isinstance(value, list):
            text += sum(len(str(item)) for item in value)
    return max(1, text // CHARS_PER_TOKEN) if text else 0


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
