"""A deterministic OpenAI-compatible server that lives in the router (the `fake` provider).

The same input always gives the same answer: it echoes the last user message, streams it
word by word, counts whitespace-separated words as tokens, honours `max_tokens`, and calls the
first tool when the request offers tools. Embeddings come as numbers or, when asked with
`encoding_format: "base64"` (the openai Node SDK's default), as base64 of little-endian
float32, as OpenAI sends them. `upstream/client.py` serves it to the `fake` provider.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from dataclasses import dataclass
from typing import Any

import orjson

GREETING = "Hello from Tollway's demo model. You said:"
EMBEDDING_DIMENSIONS = 8
MODELS = ("tollway-demo-1",)


@dataclass(frozen=True)
class FakeReply:
    status: int
    body: bytes = b""
    events: tuple[bytes, ...] = ()

    @property
    def is_stream(self) -> bool:
        return bool(self.events)


def _words(text: str) -> list[str]:
    return text.split()


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def _prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    text = " ".join(_text(m.get("content")) for m in messages or () if isinstance(m, dict))
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        text += " " + prompt
    return max(1, len(_words(text)))


def _request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]


def _limit(body: dict[str, Any]) -> int | None:
    # This stands in for an upstream server, which sees only the HTTP body the adapter sent,
    # never the InferRequest; it reads its own request as OpenAI's server would.
    value = body.get("max_completion_tokens") or body.get("max_tokens")
    return int(value) if isinstance(value, int) and value > 0 else None


def _answer(body: dict[str, Any], source: str) -> tuple[list[str], str]:
    words = _words(f"{GREETING} {source}".strip())
    limit = _limit(body)
    if limit is not None and len(words) > limit:
        return words[:limit], "length"
    return words, "stop"


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _tool_call(body: dict[str, Any], ident: str) -> dict[str, Any] | None:
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools or body.get("tool_choice") == "none":
        return None
    messages = body.get("messages") or []
    if not messages or not isinstance(messages[-1], dict) or messages[-1].get("role") != "user":
        return None
    function = tools[0].get("function", {}) if isinstance(tools[0], dict) else {}
    arguments = orjson.dumps({"query": _last_user_text(messages)}).decode()
    return {
        "id": f"call_{ident[:16]}",
        "type": "function",
        "function": {"name": str(function.get("name", "tool")), "arguments": arguments},
    }


def chat_completion(body: dict[str, Any], now: int) -> FakeReply:
    ident = _request_hash(body)
    model = str(body.get("model", "fake"))
    prompt = _prompt_tokens(body)
    call = _tool_call(body, ident)
    words, finish = _answer(body, _last_user_text(body.get("messages") or []))
    if call is not None:
        words, finish = [], "tool_calls"
    completion = len(words) + (len(_words(call["function"]["arguments"])) if call else 0)
    base = {"id": f"chatcmpl-{ident}", "created": now, "model": model}
    if body.get("stream"):
        return FakeReply(200, events=_chat_events(base, words, call, finish, body, prompt))
    message: dict[str, Any] = {
        "role": "assistant",
        "content": " ".join(words) if not call else None,
        "refusal": None,
    }
    if call is not None:
        message["tool_calls"] = [call]
    response = {
        **base,
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": _usage(prompt, completion),
    }
    return FakeReply(200, body=orjson.dumps(response))


def _chat_events(
    base: dict[str, Any],
    words: list[str],
    call: dict[str, Any] | None,
    finish: str,
    body: dict[str, Any],
    prompt: int,
) -> tuple[bytes, ...]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return orjson.dumps(
            {
                **base,
                "object": "chat.completion.chunk",
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
                ],
            }
        )

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": word if i == 0 else f" {word}"}) for i, word in enumerate(words)]
    if call is not None:
        events.append(chunk({"tool_calls": [{"index": 0, **call}]}))
    events.append(chunk({}, finish))
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        completion = len(words) + (len(_words(call["function"]["arguments"])) if call else 0)
        events.append(
            orjson.dumps(
                {
                    **base,
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "usage": _usage(prompt, completion),
                }
            )
        )
    return (*events, b"[DONE]")


def completion(body: dict[str, Any], now: int) -> FakeReply:
    ident = _request_hash(body)
    prompt = body.get("prompt")
    words, finish = _answer(body, prompt if isinstance(prompt, str) else "")
    base = {"id": f"cmpl-{ident}", "created": now, "model": str(body.get("model", "fake"))}
    usage = _usage(_prompt_tokens(body), len(words))
    if body.get("stream"):
        events = [
            orjson.dumps(
                {
                    **base,
                    "object": "text_completion",
                    "choices": [
                        {
                            "index": 0,
                            "text": word if i == 0 else f" {word}",
                            "finish_reason": finish if i == len(words) - 1 else None,
                            "logprobs": None,
                        }
                    ],
                }
            )
            for i, word in enumerate(words)
        ]
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            events.append(
                orjson.dumps({**base, "object": "text_completion", "choices": [], "usage": usage})
            )
        return FakeReply(200, events=(*events, b"[DONE]"))
    response = {
        **base,
        "object": "text_completion",
        "choices": [
            {"index": 0, "text": " ".join(words), "finish_reason": finish, "logprobs": None}
        ],
        "usage": usage,
    }
    return FakeReply(200, body=orjson.dumps(response))


def _encoded(vector: list[float], encoding_format: Any) -> list[float] | str:
    if encoding_format != "base64":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def embeddings(body: dict[str, Any]) -> FakeReply:
    raw = body.get("input")
    inputs = raw if isinstance(raw, list) else [raw]
    data = []
    tokens = 0
    for index, item in enumerate(inputs):
        text = str(item)
        tokens += max(1, len(_words(text)))
        digest = hashlib.sha256(text.encode()).digest()
        vector = [round(byte / 255 * 2 - 1, 6) for byte in digest[:EMBEDDING_DIMENSIONS]]
        embedding = _encoded(vector, body.get("encoding_format"))
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    response = {
        "object": "list",
        "data": data,
        "model": str(body.get("model", "fake")),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return FakeReply(200, body=orjson.dumps(response))


def models(now: int) -> FakeReply:
    data = [
        {"id": name, "object": "model", "created": now, "owned_by": "tollway"} for name in MODELS
    ]
    return FakeReply(200, body=orjson.dumps({"object": "list", "data": data}))


def not_found(path: str) -> FakeReply:
    error = {
        "error": {
            "message": f"No route {path}",
            "type": "invalid_request_error",
            "param": None,
            "code": "not_found",
        }
    }
    return FakeReply(404, body=orjson.dumps(error))


def respond(path: str, body: dict[str, Any], now: int | None = None) -> FakeReply:
    """Answer an OpenAI request for `path` (which ends in the endpoint's path)."""
    clock = int(time.time()) if now is None else now
    if path.endswith("/chat/completions"):
        return chat_completion(body, clock)
    if path.endswith("/completions"):
        return completion(body, clock)
    if path.endswith("/embeddings"):
        return embeddings(body)
    if path.endswith("/models"):
        return models(clock)
    return not_found(path)


def sse_bytes(events: tuple[bytes, ...]) -> bytes:
    return b"".join(b"data: " + event + b"\n\n" for event in events)


def respond_bytes(path: str, raw: bytes) -> FakeReply:
    body = orjson.loads(raw or b"{}")
    return respond(path, body if isinstance(body, dict) else {})
