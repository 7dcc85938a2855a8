"""What a request's content needs of the model beyond text (`RequestFacts.needs`), read once
from the client's body (`body.py` has checked its size and depth) by `request_facts.py`: images
among the input, tool definitions, an answer held to a JSON schema, and thinking. The router
skips deployments that lack one (`Deployment.can`) and answers 400 naming it when none is left.

Each dialect spells them its own way: chat `image_url` parts, `tools` (or the legacy
`functions`), `response_format.type: json_schema` and `reasoning_effort`; Messages `image`
blocks (also inside a `tool_result`), `tools`, `output_config.format` (or the beta
`output_format`) and `thinking`; Responses `input_image` parts, `tools`, `text.format.type:
json_schema` and `reasoning.effort`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tollway_common.contract import Capability, Endpoint

# Effort values that ask for no reasoning at all (`reasoning_effort: "none"` on GPT-5.1).
_NO_EFFORT = (None, "none")
# Iterating the enum itself costs a dozen Python calls a request.
_IN_ORDER = tuple(Capability)


def read_needs(endpoint: Endpoint, body: dict[str, Any]) -> tuple[Capability, ...]:
    reader = _READERS.get(endpoint)
    if reader is None:
        return ()
    found = reader(body)
    if not found:
        return ()
    return tuple(capability for capability in _IN_ORDER if capability in found)


def _chat(body: dict[str, Any]) -> set[Capability]:
    found: set[Capability] = set()
    if _any_part(_contents(body.get("messages")), "image_url"):
        found.add(Capability.VISION)
    if _nonempty_list(body.get("tools")) or _nonempty_list(body.get("functions")):
        found.add(Capability.TOOLS)
    if _type_of(body.get("response_format")) == "json_schema":
        found.add(Capability.STRUCTURED_OUTPUTS)
    if body.get("reasoning_effort") not in _NO_EFFORT:
        found.add(Capability.THINKING)
    return found


def _messages(body: dict[str, Any]) -> set[Capability]:
    found: set[Capability] = set()
    blocks = _contents(body.get("messages"))
    # A tool's result may hold images too (a screenshot from a computer-use tool).
    nested = _contents([b for b in blocks if _type_of(b) == "tool_result"])
    if _any_part(blocks + nested, "image"):
        found.add(Capability.VISION)
    if _nonempty_list(body.get("tools")):
        found.add(Capability.TOOLS)
    output_config = body.get("output_config")
    if (isinstance(output_config, dict) and output_config.get("format") is not None) or body.get(
        "output_format"
    ) is not None:
        found.add(Capability.STRUCTURED_OUTPUTS)
    if _type_of(body.get("thinking")) in ("enabled", "adaptive"):
        found.add(Capability.THINKING)
    return found


def _responses(body: dict[str, Any]) -> set[Capability]:
    found: set[Capability] = set()
    items = body.get("input")
    parts = _contents(items) + (items if isinstance(items, list) else [])
    if _any_part(parts, "input_image"):
        found.add(Capability.VISION)
    if _nonempty_list(body.get("tools")):
        found.add(Capability.TOOLS)
    text = body.get("text")
    if isinstance(text, dict) and _type_of(text.get("format")) == "json_schema":
        found.add(Capability.STRUCTURED_OUTPUTS)
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") not in _NO_EFFORT:
        found.add(Capability.THINKING)
    return found


_READERS: dict[Endpoint, Callable[[dict[str, Any]], set[Capability]]] = {
    Endpoint.CHAT_COMPLETIONS: _chat,
    Endpoint.MESSAGES: _messages,
    Endpoint.MESSAGES_COUNT_TOKENS: _messages,
    Endpoint.RESPONSES: _responses,
}


def _contents(items: Any) -> list[Any]:
    """The content parts of a list of messages (or items) whose `content` is a list."""
    if not isinstance(items, list):
        return []
    parts: list[Any] = []
    for item in items:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list):
            parts.extend(content)
    return parts


def _any_part(parts: list[Any], kind: str) -> bool:
    return any(_type_of(part) == kind for part in parts)


def _type_of(node: Any) -> Any:
    return node.get("type") if isinstance(node, dict) else None


def _nonempty_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value)
