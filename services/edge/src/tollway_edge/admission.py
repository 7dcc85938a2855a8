"""Apply the caller's policy to one request: endpoint and model lists, then caps. A refusal
names the rule that made it. What admission decides comes back as the request's facts: a
request with no `max_tokens` under a cap is bounded by the cap, so the cap cannot be
sidestepped by leaving it out."""

from __future__ import annotations

from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.errors import InvalidRequest, PermissionDenied, PolicyRefused
from tollway_edge import policy
from tollway_edge.auth import Caller
from tollway_edge.request_facts import TOKEN_FIELDS, bounded


def check_model(caller: Caller, model: str) -> None:
    refusal = policy.model_refusal(caller.levels, model)
    if refusal is not None:
        raise PermissionDenied(f"{refusal.message} (rule: {refusal.rule})", param="model")


def admit(caller: Caller, endpoint: Endpoint, model: str, facts: RequestFacts) -> RequestFacts:
    """Refuse what policy forbids; the facts policy leaves, bounded by the cap if one applies."""
    if not caller.levels:
        return facts
    refusal = policy.endpoint_refusal(caller.levels, endpoint.value)
    if refusal is not None:
        raise PolicyRefused(f"{refusal.message} (rule: {refusal.rule})")
    check_model(caller, model)
    if endpoint is Endpoint.EMBEDDINGS:
        return facts
    refusal = policy.cap_refusal(caller.levels, facts.max_tokens, facts.prompt_tokens)
    if refusal is not None:
        param = "messages" if "prompt" in refusal.rule else TOKEN_FIELDS[endpoint][0]
        raise InvalidRequest(f"{refusal.message} (rule: {refusal.rule})", param=param)
    cap = policy.max_tokens_cap(caller.levels)
    if cap is not None and facts.max_tokens is None:
        return bounded(facts, cap[0])
    return facts
