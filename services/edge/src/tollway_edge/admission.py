"""Apply the caller's policy to one request: endpoint and model lists, then caps. A refusal
names the rule that made it. A request with no `max_tokens` under a cap gets the cap, so the
cap cannot be sidestepped by leaving it out."""

from __future__ import annotations

from typing import Any

from tollway_common.contract import Endpoint
from tollway_common.errors import InvalidRequest, PermissionDenied, PolicyRefused
from tollway_common.usage_estimate import estimate_prompt_tokens
from tollway_edge import policy
from tollway_edge.auth import Caller


def check_model(caller: Caller, model: str) -> None:
    refusal = policy.model_refusal(caller.levels, model)
    if refusal is not None:
        raise PermissionDenied(f"{refusal.message} (rule: {refusal.rule})", param="model")


def admit(caller: Caller, endpoint: Endpoint, model: str, body: dict[str, Any]) -> None:
    """Refuse what policy forbids; may set the capped `max_tokens` into `body`."""
    if not caller.levels:
        return
    refusal = policy.endpoint_refusal(caller.levels, endpoint.value)
    if refusal is not None:
        raise PolicyRefused(f"{refusal.message} (rule: {refusal.rule})")
    check_model(caller, model)
    if endpoint is Endpoint.EMBEDDINGS:
        return
    field = "max_completion_tokens" if endpoint is Endpoint.CHAT_COMPLETIONS else "max_tokens"
    requested = body.get("max_completion_tokens") or body.get("max_tokens")
    prompt_cap = policy.prompt_tokens_cap(caller.levels)
    prompt_tokens = estimate_prompt_tokens(body) if prompt_cap is not None else 0
    refusal = policy.cap_refusal(caller.levels, requested, prompt_tokens)
    if refusal is not None:
        param = "messages" if "prompt" in refusal.rule else field
        raise InvalidRequest(f"{refusal.message} (rule: {refusal.rule})", param=param)
    cap = policy.max_tokens_cap(caller.levels)
    if cap is not None and requested is None:
        body[field] = cap[0]
