"""OpenAI's Responses API as a fake upstream answers it: a whole `Response`, or the stream of
typed events OpenAI sends (`response.created` ... `response.completed`), each numbered.

Deterministic like the demo server: it echoes the last user text, calls the first function
tool when the request offers tools and its last input item is a user message, and answers a
`function_call_output` by quoting it. Usage counts words.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

GREETING = "Hello from the fake Responses API. You said:"
TOOL_ANSWER = "The tool answered:"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    return [item for item in raw or () if isinstance(item, dict)]


def _id(prefix: str, body: dict[str, Any], salt: str = "") -> str:
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS) + salt.encode())
    return f"{prefix}_{digest.hexdigest()[:32]}"


def _words(items: list[dict[str, Any]]) -> int:
    text = " ".join(_text(i.get("content")) + str(i.get("output", "")) for i in items)
    return max(1, len(text.split()))


def _output(body: dict[str, Any]) -> dict[str, Any]:
    items = _items(body)
    last = items[-1] if items else {}
    tools = [
        t for t in body.get("tools") or () if isinstance(t, dict) and t.get("type") == "function"
    ]
    if tools and last.get("type", "message") == "message" and last.get("role") == "user":
        return {
            "type": "function_call",
            "id": _id("fc", body),
            "call_id": _id("call", body),
            "name": str(tools[0].get("name")),
            "arguments": orjson.dumps({"city": _text(last.get("content"))}).decode(),
            "status": "completed",
        }
    if last.get("type") == "function_call_output":
        text = f"{TOOL_ANSWER} {last.get('output')}"
    else:
        users = [i for i in items if i.get("role") == "user"]
        text = f"{GREETING} {_text(users[-1].get('content')) if users else ''}".strip()
    limit = body.get("max_output_tokens")
    words = text.split()
    if isinstance(limit, int) and len(words) > limit:
        text = " ".join(words[:limit])
    return {
        "type": "message",
        "id": _id("msg", body),
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def response(body: dict[str, Any], now: int, status: str = "completed") -> dict[str, Any]:
    """The `Response` OpenAI answers `body` with (`in_progress`: as the stream opens)."""
    done = status == "completed"
    output = _output(body) if done else None
    completion = len(_output_text(output).split()) if output else 0
    if output is not None and output["type"] == "function_call":
        completion = len(output["arguments"].split())
    prompt = _words(_items(body))
    answer: dict[str, Any] = {
        "id": _id("resp", body),
        "object": "response",
        "created_at": now,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": str(body.get("model")),
        "output": [output] if output else [],
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": body.get("tools") or [],
        "top_p": 1.0,
        "truncation": "disabled",
        "metadata": {},
    }
    if done:
        # OpenAI's spec has no null usage: an unfinished response leaves it out.
        answer["usage"] = {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion,
        }
    return answer


def _output_text(item: dict[str, Any] | None) -> str:
    if item is None or item["type"] != "message":
        return ""
    return str(item["content"][0]["text"])


def events(body: dict[str, Any], now: int) -> list[tuple[str, dict[str, Any]]]:
    """The stream OpenAI sends for `body`, as (event type, data) pairs."""
    final = response(body, now)
    opening = response(body, now, status="in_progress")
    item = final["output"][0]
    out: list[dict[str, Any]] = [
        {"type": "response.created", "response": opening},
        {"type": "response.in_progress", "response": opening},
    ]
    if item["type"] == "function_call":
        out += [
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**item, "arguments": "", "status": "in_progress"},
            },
            {
                "type": "response.function_call_arguments.delta",
                "item_id": item["id"],
                "output_index": 0,
                "delta": item["arguments"],
            },
            {
                "type": "response.function_call_arguments.done",
                "item_id": item["id"],
                "output_index": 0,
                "name": item["name"],
                "arguments": item["arguments"],
            },
        ]
    else:
        text = _output_text(item)
        empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        out += [
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**item, "status": "in_progress", "content": []},
            },
            {"type": "response.content_part.added", **where, "part": empty},
        ]
        words = text.split(" ")
        out += [
            {
                "type": "response.output_text.delta",
                **where,
                "logprobs": [],
                "delta": word if index == 0 else " " + word,
            }
            for index, word in enumerate(words)
        ]
        out += [
            {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
            {"type": "response.content_part.done", **where, "part": item["content"][0]},
        ]
    out += [
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": final},
    ]
    return [(event["type"], {**event, "sequence_number": n}) for n, event in enumerate(out)]


def sse(pairs: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
    return [
        b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
        for kind, data in pairs
    ]
