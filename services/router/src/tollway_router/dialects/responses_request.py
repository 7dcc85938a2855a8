"""OpenAI Responses request -> OpenAI chat request, for deployments that serve Responses only
by translation (every provider but OpenAI and Azure OpenAI, which take it natively).

Each CreateResponse field is carried over, dropped by a rule, or refused with a 400 naming it
(the table in docs/providers.md, "The Responses API on deployments that speak only chat");
nothing a client sends ends in a 5xx. `input` may already hold an earlier response's output
items: the response store expands `previous_response_id` into it before the router sees the
body. `responses_response.py` and `responses_stream.py` translate the answer back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from tollway_common.contract import RequestFacts
from tollway_common.errors import InvalidRequest

Json = dict[str, Any]

# Responses roles -> chat roles. `developer` goes as `system`: every OpenAI-compatible server
# and the Claude adapter read that, not all of them read `developer`.
ROLES = {"user": "user", "system": "system", "developer": "system", "assistant": "assistant"}
EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh"})
VERBOSITIES = frozenset({"low", "medium", "high"})
IMAGE_DETAILS = frozenset({"auto", "low", "high"})
JSON_SCHEMA_NAME = "response"
_TEXT_PARTS = frozenset({"input_text", "output_text"})
# Fields that ask for what only OpenAI's own servers keep or run: refused by name.
_OPENAI_ONLY_FIELDS = {
    "prompt": "stored prompt templates",
    "conversation": "stored conversations",
    "context_management": "server-side context management",
}
_NOT_SERVED = (
    "can be used only on OpenAI and Azure OpenAI deployments, and this model is served by "
    "another provider"
)


def to_chat(body: Mapping[str, Any], facts: RequestFacts) -> Json:
    """The chat request for a CreateResponse `body`; `facts.max_tokens` (the edge's bound,
    written into `max_output_tokens` when the client named none) bounds the answer.

    Raises InvalidRequest naming the field when the body asks for what chat cannot do.
    """
    for name, what in _OPENAI_ONLY_FIELDS.items():
        if body.get(name) is not None:
            raise InvalidRequest(f"{name}: {what} {_NOT_SERVED}.", param=name)
    chat: Json = {"model": body.get("model"), "messages": conversation(body).out}
    if facts.max_tokens is not None:
        chat["max_completion_tokens"] = facts.max_tokens
    _copy_sampling(body, chat)
    _add_tools(body, chat)
    _add_reasoning(body, chat)
    _add_text(body, chat)
    _add_identity(body, chat)
    if body.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"{where} must be an object.", param=where)
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{where} must be a string.", param=where)
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRequest(f"{where} must be an array.", param=where)
    return value


def _number(value: Any, where: str, top: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= top:
        raise InvalidRequest(f"{where} must be a number from 0 to {top:g}.", param=where)
    return value


def _json(value: Any, where: str) -> str:
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError) as exc:  # nested too deep, or not JSON
        raise InvalidRequest(
            f"{where} is not JSON that can be sent on: {exc}", param=where
        ) from exc


# --- the conversation ---------------------------------------------------------------------


@dataclass
class Origin:
    """Where a chat message came from in the Responses request (`instructions`, `input` or
    `input[i]`: its first item), and where each of its tool calls did."""

    where: str
    calls: list[str] = field(default_factory=list)


@dataclass
class Conversation:
    """Chat messages built item by item. An assistant message stays open while the items of
    one assistant turn follow each other (reasoning, then text, then function calls, as a
    response's output lists them), so they become one chat message. Images that tool results
    returned wait in `images` (a chat tool message carries text only) and go in one user
    message after the run of tool messages. `origins[i]` says where `out[i]` came from."""

    out: list[Json] = field(default_factory=list)
    origins: list[Origin] = field(default_factory=list)
    assistant: Json | None = None
    assistant_origin: Origin | None = None
    images: list[Json] = field(default_factory=list)
    images_origin: str = ""

    def add(self, message: Json, where: str) -> None:
        self.close()
        self._append(message, Origin(where))

    def tool_result(self, message: Json, images: list[Json], where: str) -> None:
        self._close_assistant()
        self._append(message, Origin(where))
        if images and not self.images:
            self.images_origin = where
        self.images += images

    def open_assistant(self, where: str) -> Json:
        if self.assistant is None:
            self._flush_images()
            self.assistant = {"role": "assistant", "content": None}
            self.assistant_origin = Origin(where)
        return self.assistant

    def call(self, call: Json, where: str) -> None:
        self.open_assistant(where).setdefault("tool_calls", []).append(call)
        if self.assistant_origin is not None:
            self.assistant_origin.calls.append(where)

    def close(self) -> None:
        self._close_assistant()
        self._flush_images()

    def _append(self, message: Json, origin: Origin) -> None:
        self.out.append(message)
        self.origins.append(origin)

    def _close_assistant(self) -> None:
        message, self.assistant = self.assistant, None
        origin, self.assistant_origin = self.assistant_origin, None
        # Reasoning alone is no chat message: chat has no empty assistant turn.
        if message is not None and (message["content"] is not None or "tool_calls" in message):
            self._append(message, origin or Origin("input"))

    def _flush_images(self) -> None:
        if self.images:
            self._append({"role": "user", "content": self.images}, Origin(self.images_origin))
            self.images = []


def conversation(body: Mapping[str, Any]) -> Conversation:
    """The chat messages of `instructions` and `input`, and where each came from."""
    talk = Conversation()
    instructions = body.get("instructions")
    if instructions is not None:
        text = _string(instructions, "instructions")
        if text:
            talk.add({"role": "system", "content": text}, "instructions")
    raw = body.get("input")
    if isinstance(raw, str):
        talk.add({"role": "user", "content": raw}, "input")
    elif raw is not None:
        for i, item in enumerate(_list(raw, "input")):
            _item(talk, item, f"input[{i}]")
    talk.close()
    if not any(message["role"] != "system" for message in talk.out):
        raise InvalidRequest("input must hold at least one message.", param="input")
    return talk


def _item(talk: Conversation, raw: Any, where: str) -> None:
    item = _object(raw, where)
    kind = item.get("type")
    if kind == "message" or (kind is None and "role" in item):
        _message(talk, item, where)
    elif kind == "function_call":
        _function_call(talk, item, where)
    elif kind == "function_call_output":
        _function_call_output(talk, item, where)
    elif kind == "reasoning":
        _reasoning(talk, item, where)
    elif kind == "item_reference":
        raise InvalidRequest(
            f"{where}: item references point into OpenAI's conversation state, which this "
            "model's deployment does not keep; send the item itself, or use "
            "previous_response_id.",
            param=f"{where}.type",
        )
    elif isinstance(kind, str):
        raise InvalidRequest(
            f"{where}: input items of type {kind!r} belong to OpenAI's built-in tools, which "
            f"{_NOT_SERVED}.",
            param=f"{where}.type",
        )
    else:
        raise InvalidRequest(f"{where} must have a type or a role.", param=f"{where}.type")


def _message(talk: Conversation, item: Mapping[str, Any], where: str) -> None:
    role = item.get("role")
    if role not in ROLES:
        raise InvalidRequest(
            f"{where}.role must be one of {', '.join(ROLES)}.", param=f"{where}.role"
        )
    content = item.get("content")
    if role == "assistant":
        text = _text(content, f"{where}.content")
        message = talk.open_assistant(where)
        if "tool_calls" in message:
            # Text after the turn's calls starts a new turn.
            talk.close()
            message = talk.open_assistant(where)
        message["content"] = (message["content"] or "") + text
        return
    if role in ("system", "developer"):
        talk.add({"role": "system", "content": _text(content, f"{where}.content")}, where)
        return
    if isinstance(content, str):
        talk.add({"role": "user", "content": content}, where)
        return
    parts = [
        _user_part(part, f"{where}.content[{j}]")
        for j, part in enumerate(_list(content, f"{where}.content"))
    ]
    if not parts:
        return  # nothing to say: chat refuses an empty list of parts
    if len(parts) == 1 and parts[0]["type"] == "text":
        talk.add({"role": "user", "content": parts[0]["text"]}, where)
    else:
        talk.add({"role": "user", "content": parts}, where)


def _text(content: Any, where: str) -> str:
    """A message's content as text: a string, or its text and refusal parts joined."""
    if isinstance(content, str):
        return content
    texts = []
    for j, raw in enumerate(_list(content, where)):
        part = _object(raw, f"{where}[{j}]")
        kind = part.get("type")
        if kind in _TEXT_PARTS:
            texts.append(_string(part.get("text"), f"{where}[{j}].text"))
        elif kind == "refusal":
            texts.append(_string(part.get("refusal"), f"{where}[{j}].refusal"))
        else:
            raise InvalidRequest(
                f"{where}[{j}] must be a text part in this message.", param=f"{where}[{j}].type"
            )
    return "".join(texts)


def _user_part(raw: Any, where: str) -> Json:
    part = _object(raw, where)
    kind = part.get("type")
    if kind in _TEXT_PARTS:
        return {"type": "text", "text": _string(part.get("text"), f"{where}.text")}
    if kind == "refusal":
        return {"type": "text", "text": _string(part.get("refusal"), f"{where}.refusal")}
    if kind == "input_image":
        return _image(part, where)
    if kind == "input_file":
        raise InvalidRequest(
            f"{where}: files {_NOT_SERVED}; send the file's text as input_text.",
            param=f"{where}.type",
        )
    raise InvalidRequest(
        f"{where}.type must be input_text, input_image or input_file.", param=f"{where}.type"
    )


def _image(part: Mapping[str, Any], where: str) -> Json:
    if part.get("file_id") is not None:
        raise InvalidRequest(
            f"{where}: an image uploaded as a file {_NOT_SERVED}; send it by image_url "
            "(a URL or a base64 data URL).",
            param=f"{where}.file_id",
        )
    image: Json = {"url": _string(part.get("image_url"), f"{where}.image_url")}
    detail = part.get("detail")
    if detail in IMAGE_DETAILS:
        image["detail"] = detail
    elif detail is not None and detail != "original":
        raise InvalidRequest(
            f"{where}.detail must be auto, low, high or original.", param=f"{where}.detail"
        )
    return {"type": "image_url", "image_url": image}


def _function_call(talk: Conversation, item: Mapping[str, Any], where: str) -> None:
    arguments = item.get("arguments")
    call = {
        "id": _string(item.get("call_id"), f"{where}.call_id"),
        "type": "function",
        "function": {
            "name": _string(item.get("name"), f"{where}.name"),
            "arguments": _string(arguments, f"{where}.arguments"),
        },
    }
    talk.call(call, where)


def _function_call_output(talk: Conversation, item: Mapping[str, Any], where: str) -> None:
    call_id = _string(item.get("call_id"), f"{where}.call_id")
    output = item.get("output")
    images: list[Json] = []
    if isinstance(output, str):
        text = output
    else:
        texts = []
        for j, raw in enumerate(_list(output, f"{where}.output")):
            part = _user_part(raw, f"{where}.output[{j}]")
            if part["type"] == "text":
                texts.append(part["text"])
            else:
                images.append(part)
        text = "\n\n".join(texts)
    talk.tool_result({"role": "tool", "tool_call_id": call_id, "content": text}, images, where)


def _reasoning(talk: Conversation, item: Mapping[str, Any], where: str) -> None:
    """Reasoning goes on only as the Claude adapter takes it back: its text with the signature
    (`encrypted_content`, as `responses_response.py` writes it) in `reasoning_content` and
    `reasoning_signature`. Any other reasoning is dropped: chat has no field for it, and a
    model does not need its earlier turns' reasoning."""
    texts = [
        _string(_object(part, f"{where}.content[{j}]").get("text"), f"{where}.content[{j}].text")
        for j, part in enumerate(_list(item.get("content") or [], f"{where}.content"))
    ]
    signature = item.get("encrypted_content")
    if talk.assistant is not None and (
        talk.assistant["content"] is not None or "tool_calls" in talk.assistant
    ):
        talk.close()  # reasoning opens a new assistant turn
    message = talk.open_assistant(where)
    if texts and isinstance(signature, str) and signature:
        message["reasoning_content"] = "".join(texts)
        message["reasoning_signature"] = signature


# --- the rest of the request --------------------------------------------------------------


def _copy_sampling(body: Mapping[str, Any], chat: Json) -> None:
    for name, top in (("temperature", 2.0), ("top_p", 1.0)):
        value = body.get(name)
        if value is not None:
            chat[name] = _number(value, name, top)


def _add_tools(body: Mapping[str, Any], chat: Json) -> None:
    raw = body.get("tools")
    tools = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(_list(raw or [], "tools"))]
    choice = body.get("tool_choice")
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise InvalidRequest(
            "parallel_tool_calls must be true or false.", param="parallel_tool_calls"
        )
    if not tools:
        return  # chat refuses tool_choice and parallel_tool_calls without tools
    names = {tool["function"]["name"] for tool in tools}
    if choice is not None:
        chat["tool_choice"], allowed = _tool_choice(choice, names)
        if allowed is not None:
            tools = [tool for tool in tools if tool["function"]["name"] in allowed]
    chat["tools"] = tools
    if parallel is not None:
        chat["parallel_tool_calls"] = parallel


def _tool(raw: Any, where: str) -> Json:
    tool = _object(raw, where)
    kind = tool.get("type")
    if kind != "function":
        raise InvalidRequest(
            f"{where}: the {kind!r} tool {_NOT_SERVED}; declare function tools instead.",
            param=f"{where}.type",
        )
    function: Json = {"name": _string(tool.get("name"), f"{where}.name")}
    description = tool.get("description")
    if description is not None:
        function["description"] = _string(description, f"{where}.description")
    parameters = tool.get("parameters")
    if parameters is not None:
        if not isinstance(parameters, dict):
            raise InvalidRequest(
                f"{where}.parameters must be an object.", param=f"{where}.parameters"
            )
        _json(parameters, f"{where}.parameters")
        function["parameters"] = parameters
    strict = tool.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise InvalidRequest(f"{where}.strict must be true or false.", param=f"{where}.strict")
    if strict is True:
        function["strict"] = True
    return {"type": "function", "function": function}


def _tool_choice(raw: Any, names: set[str]) -> tuple[Any, set[str] | None]:
    """Chat's tool_choice, and the names `allowed_tools` narrows the tools to (None: all)."""
    if raw in ("auto", "none", "required"):
        return raw, None
    if not isinstance(raw, dict):
        raise InvalidRequest(
            "tool_choice must be auto, none, required or {type: function, name}.",
            param="tool_choice",
        )
    choice: Mapping[str, Any] = raw
    kind = choice.get("type")
    if kind == "function":
        name = _string(choice.get("name"), "tool_choice.name")
        if name not in names:
            raise InvalidRequest(
                f"tool_choice names the function {name!r}, which is not among the tools.",
                param="tool_choice.name",
            )
        return {"type": "function", "function": {"name": name}}, None
    if kind == "allowed_tools":
        mode = choice.get("mode")
        if mode not in ("auto", "required"):
            raise InvalidRequest(
                "tool_choice.mode must be auto or required.", param="tool_choice.mode"
            )
        allowed: set[str] = set()
        for k, raw_entry in enumerate(_list(choice.get("tools"), "tool_choice.tools")):
            entry = _object(raw_entry, f"tool_choice.tools[{k}]")
            listed = entry.get("name")
            if entry.get("type") != "function" or listed not in names:
                raise InvalidRequest(
                    f"tool_choice.tools[{k}] must name one of the function tools.",
                    param=f"tool_choice.tools[{k}]",
                )
            allowed.add(str(listed))
        return mode, allowed
    if not isinstance(kind, str):
        raise InvalidRequest(
            "tool_choice.type must be function or allowed_tools.", param="tool_choice.type"
        )
    raise InvalidRequest(f"tool_choice: the tool {kind!r} {_NOT_SERVED}.", param="tool_choice.type")


def _add_reasoning(body: Mapping[str, Any], chat: Json) -> None:
    effort = _object(body.get("reasoning"), "reasoning").get("effort")
    if effort is None:
        return
    if effort not in EFFORTS:
        raise InvalidRequest(
            f"reasoning.effort must be one of {', '.join(sorted(EFFORTS))}.",
            param="reasoning.effort",
        )
    chat["reasoning_effort"] = effort


def _add_text(body: Mapping[str, Any], chat: Json) -> None:
    text = _object(body.get("text"), "text")
    verbosity = text.get("verbosity")
    if verbosity is not None:
        if verbosity not in VERBOSITIES:
            raise InvalidRequest(
                "text.verbosity must be low, medium or high.", param="text.verbosity"
            )
        chat["verbosity"] = verbosity
    form = _object(text.get("format"), "text.format")
    kind = form.get("type")
    if kind in (None, "text"):
        return
    if kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
        return
    if kind != "json_schema":
        raise InvalidRequest(
            "text.format.type must be text, json_object or json_schema.", param="text.format.type"
        )
    schema = form.get("schema")
    if not isinstance(schema, dict):
        raise InvalidRequest("text.format.schema must be an object.", param="text.format.schema")
    _json(schema, "text.format.schema")
    name = form.get("name", JSON_SCHEMA_NAME)
    spec: Json = {"name": _string(name, "text.format.name"), "schema": schema}
    description = form.get("description")
    if description is not None:
        spec["description"] = _string(description, "text.format.description")
    strict = form.get("strict")
    if strict is not None:
        if not isinstance(strict, bool):
            raise InvalidRequest(
                "text.format.strict must be true or false.", param="text.format.strict"
            )
        spec["strict"] = strict
    chat["response_format"] = {"type": "json_schema", "json_schema": spec}


def _add_identity(body: Mapping[str, Any], chat: Json) -> None:
    """`user` (deprecated) or `safety_identifier` -> chat's `user`; `prompt_cache_key` as is."""
    for name in ("safety_identifier", "user"):
        value = body.get(name)
        if value is not None:
            chat["user"] = _string(value, name)
    key = body.get("prompt_cache_key")
    if key is not None:
        chat["prompt_cache_key"] = _string(key, "prompt_cache_key")
