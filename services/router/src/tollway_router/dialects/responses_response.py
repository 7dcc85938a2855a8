"""OpenAI chat completion -> OpenAI Responses `Response`: the answer to a Responses request that
`responses_request.py` sent to a chat deployment (`responses_stream.py` does the same for
streams, with the pieces defined here)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tollway_common.contract import Usage
from tollway_router.dialects.messages_response import reasoning_of, text_of, tool_name

Json = dict[str, Any]

# Chat finish reasons that leave a response incomplete, and the reason Responses gives.
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
# Where the Claude adapter puts the signature of its thinking; it rides back to the client
# as the reasoning item's `encrypted_content` and returns as `reasoning_signature`.
SIGNATURE_FIELD = "reasoning_signature"
_NOT_NULL = ("prompt_cache_key", "safety_identifier", "usage", "user")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class Asked:
    """The request fields a Response echoes back, read without judging them: a body that is
    not valid never gets this far (`to_chat` refused it), yet reading must not fail either."""

    model: str
    instructions: str | None
    tools: list[Json]
    tool_choice: Any
    parallel_tool_calls: bool
    temperature: float | None
    top_p: float | None
    max_output_tokens: int | None
    previous_response_id: str | None
    store: bool
    metadata: Json
    text: Json
    reasoning: Json
    user: str | None
    safety_identifier: str | None
    prompt_cache_key: str | None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Asked:
        return cls(
            model=str(body.get("model") or ""),
            instructions=_opt(body.get("instructions"), str),
            tools=[_echo_tool(tool) for tool in _seq(body.get("tools"))],
            tool_choice=_tool_choice(body.get("tool_choice")),
            parallel_tool_calls=body.get("parallel_tool_calls") is not False,
            temperature=_opt(body.get("temperature"), float),
            top_p=_opt(body.get("top_p"), float),
            max_output_tokens=_opt(body.get("max_output_tokens"), int),
            previous_response_id=_opt(body.get("previous_response_id"), str),
            store=body.get("store") is not False,
            metadata=_map(body.get("metadata")),
            text=_echo_text(body.get("text")),
            reasoning=_echo_reasoning(body.get("reasoning")),
            user=_opt(body.get("user"), str),
            safety_identifier=_opt(body.get("safety_identifier"), str),
            prompt_cache_key=_opt(body.get("prompt_cache_key"), str),
        )


def _opt(value: Any, kind: type) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def _seq(value: Any) -> list[Json]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _map(value: Any) -> Json:
    return dict(value) if isinstance(value, dict) else {}


def _echo_tool(tool: Mapping[str, Any]) -> Json:
    return {
        "type": "function",
        "name": str(tool.get("name") or ""),
        "description": _opt(tool.get("description"), str),
        "parameters": tool.get("parameters") if isinstance(tool.get("parameters"), dict) else None,
        "strict": tool.get("strict") if isinstance(tool.get("strict"), bool) else None,
    }


def _tool_choice(value: Any) -> Any:
    if value in ("auto", "none", "required") or isinstance(value, dict):
        return value
    return "auto"


def _echo_text(value: Any) -> Json:
    text = _map(value)
    form = _map(text.get("format")) or {"type": "text"}
    if form.get("type") == "json_schema":
        form.setdefault("name", "response")
    return {**text, "format": form}


def _echo_reasoning(value: Any) -> Json:
    reasoning = _map(value)
    return {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")}


def usage_block(usage: Usage | None) -> Json:
    """Responses usage from the chat usage: Responses, like chat, counts cached reads (and
    writes) inside input_tokens and reasoning inside output_tokens."""
    if usage is None:
        usage = Usage()
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": min(usage.cached_read_tokens, usage.prompt_tokens),
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
    }


def response_object(
    asked: Asked,
    response_id: str,
    created_at: int,
    *,
    status: str,
    output: list[Json],
    usage: Json | None,
    incomplete: str | None = None,
    completed_at: int | None = None,
) -> Json:
    """The Response: what was produced (`output`, `usage`, `status`) and the request echoed.
    Fields OpenAI's spec does not let be null are left out when there is nothing to say."""
    response: Json = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "completed_at": completed_at,
        "error": None,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": asked.instructions,
        "max_output_tokens": asked.max_output_tokens,
        "model": asked.model,
        "output": output,
        "parallel_tool_calls": asked.parallel_tool_calls,
        "previous_response_id": asked.previous_response_id,
        "prompt_cache_key": asked.prompt_cache_key,
        "reasoning": asked.reasoning,
        "safety_identifier": asked.safety_identifier,
        "store": asked.store,
        "temperature": asked.temperature,
        "text": asked.text,
        "tool_choice": asked.tool_choice,
        "tools": asked.tools,
        "top_p": asked.top_p,
        "truncation": "disabled",
        "usage": usage,
        "user": asked.user,
        "metadata": asked.metadata,
    }
    for name in _NOT_NULL:
        if response[name] is None:
            del response[name]
    return response


def closing_status(finish_reason: Any, output: list[Json]) -> tuple[str, str | None]:
    """The response's status and incomplete reason; an incomplete response's last item is the
    one cut short, and says so in its own status."""
    reason = INCOMPLETE.get(str(finish_reason))
    if reason is None:
        return "completed", None
    if output:
        output[-1]["status"] = "incomplete"
    return "incomplete", reason


def reasoning_item(item_id: str, text: str, signature: str, status: str) -> Json:
    return {
        "id": item_id,
        "type": "reasoning",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
        "encrypted_content": signature or None,
        "status": status,
    }


def text_part(text: str) -> Json:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(refusal: str) -> Json:
    return {"type": "refusal", "refusal": refusal}


def message_item(item_id: str, content: list[Json], status: str) -> Json:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> Json:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def call_id_of(raw: Any) -> str:
    """The chat tool call's id, which the client sends back as `call_id`; a server that gave
    none gets one made up, so the client can still match the result to the call."""
    return raw if isinstance(raw, str) and raw else new_id("call")


def arguments_of(raw: Any) -> str:
    """A tool call's arguments as the JSON text Responses carries; none at all is `{}`."""
    if isinstance(raw, dict):
        return orjson.dumps(raw).decode()
    if not isinstance(raw, str) or not raw.strip():
        return "{}"
    return raw


def to_response(
    completion: Mapping[str, Any],
    usage: Usage | None,
    asked: Asked,
    deployment: str,
    *,
    response_id: str | None = None,
    now: float | None = None,
) -> Json:
    """The Response for a chat completion (its first choice: Responses has no `n`)."""
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    choice = choice if isinstance(choice, dict) else {}
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    output: list[Json] = []
    reasoning = reasoning_of(message)
    if reasoning:
        signature = message.get(SIGNATURE_FIELD)
        signature = signature if isinstance(signature, str) else ""
        output.append(reasoning_item(new_id("rs"), reasoning, signature, "completed"))
    content: list[Json] = []
    text = text_of(message.get("content"))
    if text:
        content.append(text_part(text))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        content.append(refusal_part(refusal))
    if content:
        output.append(message_item(new_id("msg"), content, "completed"))
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        call = call if isinstance(call, dict) else {}
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        output.append(
            function_call_item(
                new_id("fc"),
                call_id_of(call.get("id")),
                tool_name(function.get("name"), deployment),
                arguments_of(function.get("arguments")),
                "completed",
            )
        )
    status, incomplete = closing_status(choice.get("finish_reason"), output)
    created = int(time.time() if now is None else now)
    return response_object(
        asked,
        response_id or new_id("resp"),
        created,
        status=status,
        output=output,
        usage=usage_block(usage),
        incomplete=incomplete,
        completed_at=created if status == "completed" else None,
    )
