"""`/v1/messages/count_tokens` for a model none of whose deployments can count tokens itself
(only Anthropic's API can): the edge answers with its own prompt estimate, the one limits and
budgets reserve by, without a trip to a router. Models served by a provider that counts go to
the router like any request."""

from __future__ import annotations

import orjson

from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.control import ModelAlias
from tollway_common.providers import FACTS


def counts_upstream(model: ModelAlias) -> bool:
    return any(
        Endpoint.MESSAGES_COUNT_TOKENS in FACTS[deployment.provider].endpoints
        for deployment in model.deployments
    )


def estimated_count(facts: RequestFacts) -> bytes:
    """Anthropic's `MessageTokensCount` body, from the edge's estimate (about four
    characters a token)."""
    return orjson.dumps({"input_tokens": facts.prompt_tokens})
