"""Apply the caller's policy to one request: endpoint and model lists, then caps, all read from
the caller's levels combined as ceilings (`policy.effective`). A refusal names the rule that
made it. What admission decides comes back as the request's facts: a request with no
`max_tokens` under a cap is bounded by the cap (shared among its `n` answers), so the cap
cannot be sidestepped by leaving it out."""

from __future__ import annotations

from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.errors import InvalidRequest, PermissionDenied, PolicyRefused
from tollway_edge import policy
from tollway_edge.auth import Caller
from tollway_edge.request_facts import ANSWER_FIELDS, TOKEN_FIELDS, bounded, writes_tokens


def check_model(caller: Caller, model: str) -> None:
    refuse_model(caller.rules, model)


def refuse_model(rules: policy.Effective, model: str) -> None:
    refusal = policy.model_refusal(rules, model)
    if refusal is not None:
        raise PermissionDenied(f"{refusal.message} (rule: {refusal.rule})", param="model")


def admit(caller: Caller, endpoint: Endpoint, model: str, facts: RequestFacts) -> RequestFacts:
    """Refuse what policy forbids; the facts policy leaves, bounded by the cap if one applies."""
    if not caller.levels:
        return facts
    rules = caller.rules
    refusal = policy.endpoint_refusal(rules, endpoint.value)
    if refusal is not None:
        raise PolicyRefused(f"{refusal.message} (rule: {refusal.rule})")
    refuse_model(rules, model)
    if not writes_tokens(endpoint):
        return facts
    refusal = policy.cap_refusal(rules, facts)
    if refusal is not None:
        raise InvalidRequest(
            f"{refusal.message} (rule: {refusal.rule})", param=_param(refusal, endpoint)
        )
    cap = policy.cap_bound(rules, facts)
    if cap is not None and facts.max_tokens is None:
        return bounded(facts, cap)
    return facts


def _param(refusal: policy.Refusal, endpoint: Endpoint) -> str:
    if refusal.about == "prompt":
        return "prompt" if endpoint is Endpoint.COMPLETIONS else "messages"
    if refusal.about == "n":
        return ANSWER_FIELDS[endpoint][0]
    return TOKEN_FIELDS[endpoint][0]
