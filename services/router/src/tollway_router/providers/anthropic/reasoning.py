"""OpenAI `reasoning_effort` and the answer's token bound -> Claude's `max_tokens`, `thinking`
and `output_config.effort`, by what the model takes (`capabilities.py`).

Claude counts thinking inside `max_tokens`, and the edge's bound (`RequestFacts.max_tokens`:
the client's, or a cap) holds for everything the answer uses, so a thinking budget is fitted
inside the bound rather than added on top of it. Only with no bound does the deployment's
default size the answer, with room for the effort's thinking on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tollway_common.control import Deployment
from tollway_common.errors import InvalidRequest
from tollway_router.providers.anthropic.capabilities import Capabilities, Thinking
from tollway_router.providers.anthropic.parts import Block

DEFAULT_MAX_TOKENS = 4096
# Anthropic refuses a smaller `budget_tokens`.
MIN_THINKING_BUDGET = 1024
THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768}
_EFFORTS = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}


@dataclass(frozen=True, slots=True)
class Reasoning:
    max_tokens: int
    thinking: Block | None = None
    effort: str | None = None


def plan_reasoning(
    value: Any, bound: int | None, target: Deployment, caps: Capabilities
) -> Reasoning:
    effort = _effort(value)
    thinks = effort is not None and caps.thinking is not Thinking.NONE
    if not thinks or effort is None:
        return Reasoning(_max_tokens(bound, target, None))
    level = _effort_level(effort, caps.effort)
    if caps.thinking is Thinking.ADAPTIVE:
        room = THINKING_BUDGETS[effort]
        return Reasoning(_max_tokens(bound, target, room), {"type": "adaptive"}, level)
    max_tokens, budget = _budget_plan(bound, target, THINKING_BUDGETS[effort])
    return Reasoning(max_tokens, {"type": "enabled", "budget_tokens": budget}, level)


def _effort(value: Any) -> str | None:
    if value is None or value == "none":
        return None
    if not isinstance(value, str) or value not in THINKING_BUDGETS:
        raise InvalidRequest(
            f"reasoning_effort must be one of none, {', '.join(THINKING_BUDGETS)}.",
            param="reasoning_effort",
        )
    return str(value)


def _effort_level(effort: str, levels: tuple[str, ...]) -> str | None:
    """OpenAI's level on Claude's scale; `xhigh` is Claude's `xhigh`, else its `max`."""
    if not levels:
        return None
    if effort == "xhigh":
        return next((level for level in ("xhigh", "max") if level in levels), "high")
    return _EFFORTS[effort]


def _max_tokens(bound: int | None, target: Deployment, room: int | None) -> int:
    if bound is not None:
        return bound
    requested = target.default_max_tokens or DEFAULT_MAX_TOKENS
    if room is not None and requested <= room:
        return room + requested
    return requested


def _budget_plan(bound: int | None, target: Deployment, budget: int) -> tuple[int, int]:
    if bound is None or bound > budget:
        return _max_tokens(bound, target, budget), budget
    fitted = max(MIN_THINKING_BUDGET, bound // 2)
    if fitted >= bound:
        raise InvalidRequest(
            f"reasoning_effort needs a thinking budget of at least {MIN_THINKING_BUDGET} tokens "
            f"inside max_tokens on Claude, and this request may use at most {bound} (its "
            f"max_tokens or the gateway's cap). Ask for more than {MIN_THINKING_BUDGET} "
            "max_tokens, or send reasoning_effort 'none'.",
            param="reasoning_effort",
        )
    return bound, fitted
