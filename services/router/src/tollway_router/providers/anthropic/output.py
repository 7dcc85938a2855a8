"""OpenAI `response_format` -> Claude's native structured outputs (`output_config.format`)
where the model has them, else a forced `json_response` tool whose input is the answer.

`json_object` asks for any JSON object, which the native format (closed schemas only) cannot
say, so it is always the forced tool with an open object schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tollway_common.errors import InvalidRequest
from tollway_router.providers.anthropic.capabilities import Capabilities
from tollway_router.providers.anthropic.parts import Block
from tollway_router.providers.anthropic.schema import strict_schema
from tollway_router.providers.anthropic.tools import json_tool


@dataclass(frozen=True, slots=True)
class Output:
    # `output_config.format`, or the tool to force; at most one of them.
    format: Block | None = None
    tool: Block | None = None


def plan_output(response_format: Any, caps: Capabilities) -> Output:
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if response_format is None or kind == "text":
        return Output()
    if kind == "json_object":
        return Output(tool=json_tool("Give the answer as a JSON object.", {"type": "object"}))
    spec = response_format.get("json_schema") if kind == "json_schema" else None
    if not isinstance(spec, dict):
        raise InvalidRequest(
            "response_format must be text, json_object or json_schema with a json_schema object.",
            param="response_format",
        )
    schema = spec.get("schema") or {"type": "object"}
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidRequest(
            "Claude models need a json_schema whose top level is an object.",
            param="response_format.json_schema.schema",
        )
    native = strict_schema(schema) if caps.structured_outputs else None
    if native is not None:
        return Output(format={"type": "json_schema", "schema": native})
    description = spec.get("description")
    if not isinstance(description, str) or not description:
        description = f"Give the answer as a '{spec.get('name')}' object."
    return Output(tool=json_tool(description, schema))
