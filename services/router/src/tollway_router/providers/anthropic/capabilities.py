"""What each Claude model takes, by model name: the one home of the per-model facts the chat
translation decides by (sampling parameters, thinking, effort, native structured outputs).

The facts come from the Messages API as the locked SDK and Anthropic's published spec describe
it: models released after Claude Opus 4.6 refuse `temperature` other than 1.0, `top_p` below
0.99 and any `top_k`; Opus 4.6 deprecates `thinking.type: enabled` for `adaptive`, and the
models after it refuse `enabled`; models from the 4.1 generation on refuse `temperature` and
`top_p` together. A name no row knows is read as a current model, the API as it is today.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

# Levels `output_config.effort` takes, weakest first.
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")


class Sampling(StrEnum):
    """Which of `temperature` and `top_p` the model takes."""

    BOTH = "both"
    ONE = "one"  # either, never both in one request
    NONE = "none"


class Thinking(StrEnum):
    """How the model is asked to think."""

    NONE = "none"
    BUDGET = "budget"  # `{"type": "enabled", "budget_tokens": n}`
    ADAPTIVE = "adaptive"  # `{"type": "adaptive"}`: the model decides how much


@dataclass(frozen=True, slots=True)
class Capabilities:
    sampling: Sampling
    thinking: Thinking
    structured_outputs: bool
    # The `output_config.effort` levels it takes; empty: it takes no effort.
    effort: tuple[str, ...] = ()


CURRENT = Capabilities(Sampling.NONE, Thinking.ADAPTIVE, True, EFFORT_LEVELS)
_LEGACY = Capabilities(Sampling.BOTH, Thinking.NONE, False)
_FIRST_THINKERS = Capabilities(Sampling.BOTH, Thinking.BUDGET, False)
_OPUS_4_1 = Capabilities(Sampling.ONE, Thinking.BUDGET, False)
_CLAUDE_4_5 = Capabilities(Sampling.ONE, Thinking.BUDGET, True)
_OPUS_4_5 = Capabilities(Sampling.ONE, Thinking.BUDGET, True, ("low", "medium", "high"))
_CLAUDE_4_6 = Capabilities(Sampling.ONE, Thinking.ADAPTIVE, True, ("low", "medium", "high", "max"))

# Model-name patterns, first match wins. A name may carry a cloud's prefix or suffix
# (`anthropic.claude-sonnet-4-5-20250929-v1:0`), so each pattern may start anywhere in it.
CAPABILITIES: tuple[tuple[str, Capabilities], ...] = (
    ("claude-3-7-sonnet*", _FIRST_THINKERS),
    ("claude-3-*", _LEGACY),
    ("claude-opus-4-0*", _FIRST_THINKERS),
    ("claude-opus-4-2025*", _FIRST_THINKERS),
    ("claude-sonnet-4-0*", _FIRST_THINKERS),
    ("claude-sonnet-4-2025*", _FIRST_THINKERS),
    ("claude-opus-4-1*", _OPUS_4_1),
    ("claude-sonnet-4-5*", _CLAUDE_4_5),
    ("claude-haiku-4-5*", _CLAUDE_4_5),
    ("claude-opus-4-5*", _OPUS_4_5),
    ("claude-opus-4-6*", _CLAUDE_4_6),
    ("claude-sonnet-4-6*", _CLAUDE_4_6),
    ("*", CURRENT),
)


def capabilities(model: str) -> Capabilities:
    name = model.lower()
    for pattern, found in CAPABILITIES:
        if fnmatchcase(name, f"*{pattern}"):
            return found
    return CURRENT
