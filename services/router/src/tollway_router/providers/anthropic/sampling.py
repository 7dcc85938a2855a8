"""OpenAI `temperature` and `top_p` -> Claude's, where the model still takes them.

The locked SDK's `messages.create` names neither, so they travel in `extra_body`
(`upstream/anthropic_sdk.py`); models released after Claude Opus 4.6 refuse them (any
`temperature` but 1.0, any `top_p` below 0.99), so there they are dropped: a model that
samples at its own setting is what such a client gets from Claude today.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tollway_common.errors import InvalidRequest
from tollway_router.providers.anthropic.capabilities import Capabilities, Sampling

# OpenAI's ranges: a value outside them is refused whatever the model.
_OPENAI_RANGES = {"temperature": 2.0, "top_p": 1.0}


def sampling(body: Mapping[str, Any], caps: Capabilities) -> dict[str, float]:
    values = {name: _checked(body, name) for name in _OPENAI_RANGES}
    sent = {name: value for name, value in values.items() if value is not None}
    if caps.sampling is Sampling.NONE:
        return {}
    if caps.sampling is Sampling.ONE and len(sent) > 1:
        # These models refuse both together; the temperature is the one clients mean.
        del sent["top_p"]
    for name, value in sent.items():
        if value > 1:
            raise InvalidRequest(
                f"Claude accepts a {name} between 0 and 1, not {value!r}.", param=name
            )
    return sent


def _checked(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    top = _OPENAI_RANGES[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= top:
        raise InvalidRequest(f"{name} must be a number between 0 and {top:g}.", param=name)
    return value
