"""What the router keeps of one Responses API answer, and the pure rules over it: who may read
it, the input items as OpenAI lists them, a conversation rebuilt from a chain of records, and
a page of input items. `store.py` keeps the records in NATS KV and walks chains with these.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from tollway_common.contract import Principal


class Share(StrEnum):
    """Who besides its maker may read a stored response: `key` no one (the same virtual key,
    or the same user for OIDC callers); `user` anyone signed in as, or holding a key of, the
    same user; `team` anyone of the same team. Always within the same org."""

    KEY = "key"
    USER = "user"
    TEAM = "team"


class StoredResponse(BaseModel):
    """One stored answer: who made it and when, its own input items (ids minted where the
    client gave none), the `previous_response_id` it continued, and the response object."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    owner: Principal
    created_at: int
    input: list[dict[str, Any]]
    previous_response_id: str | None = None
    response: dict[str, Any]

    def output(self) -> list[dict[str, Any]]:
        items = self.response.get("output")
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def may_read(reader: Principal, owner: Principal, share: Share) -> bool:
    """Whether `reader` may read (and delete) what `owner` stored, under `share`."""
    if reader.org_id != owner.org_id:
        return False
    if share is Share.TEAM and owner.team_id and reader.team_id == owner.team_id:
        return True
    if share in (Share.TEAM, Share.USER) and owner.user_id and reader.user_id == owner.user_id:
        return True
    if reader.auth != owner.auth:
        return False
    if owner.auth == "jwt":
        return bool(owner.user_id) and reader.user_id == owner.user_id
    return bool(owner.key_id) and reader.key_id == owner.key_id


def new_item_id(prefix: str = "msg") -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


_ID_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
}


def input_items(value: Any, *, mint_ids: bool = True) -> list[dict[str, Any]]:
    """The request's `input` as OpenAI lists a response's input items: a string becomes one user
    message, a message's string content becomes one text part, and (`mint_ids`) every item has
    an id."""
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if not isinstance(value, list):
        return []
    return [_item(item, mint_ids) for item in value if isinstance(item, dict)]


def _item(item: dict[str, Any], mint_ids: bool) -> dict[str, Any]:
    kind = str(item.get("type") or "message")
    out = {**item, "type": kind}
    if kind == "message":
        role = out.get("role", "user")
        content = out.get("content")
        if isinstance(content, str):
            part_type = "output_text" if role == "assistant" else "input_text"
            part: dict[str, Any] = {"type": part_type, "text": content}
            if role == "assistant":
                part["annotations"] = []
            out["content"] = [part]
        if role == "assistant":
            out.setdefault("status", "completed")
    if mint_ids and not out.get("id"):
        out["id"] = new_item_id(_ID_PREFIXES.get(kind, "item"))
    return out


def _replayed(item: dict[str, Any]) -> dict[str, Any]:
    """A stored input item as it goes upstream again: an input message (user, system,
    developer) has no `id` in OpenAI's request schema, so the one minted for listing is left
    out; output items keep theirs."""
    if item.get("type") == "message" and item.get("role") != "assistant" and "id" in item:
        return {key: value for key, value in item.items() if key != "id"}
    return item


def conversation(chain: Sequence[StoredResponse], new_input: list[dict[str, Any]]) -> list[Any]:
    """The input a continued response is answered from: each earlier record's input and output,
    oldest first, then the new input. `chain` is newest first, as it is walked."""
    items: list[Any] = []
    for record in reversed(chain):
        items += [_replayed(item) for item in record.input]
        items += record.output()
    return items + new_input


def page(items: list[dict[str, Any]], after: str, limit: int, order: str) -> dict[str, Any] | None:
    """One page of input items as OpenAI's `ResponseItemList`; None when `after` names no
    item of the list."""
    ordered = list(reversed(items)) if order == "desc" else list(items)
    start = 0
    if after:
        ids = [item.get("id") for item in ordered]
        if after not in ids:
            return None
        start = ids.index(after) + 1
    data = ordered[start : start + limit]
    return {
        "object": "list",
        "data": data,
        "first_id": str(data[0].get("id", "")) if data else "",
        "last_id": str(data[-1].get("id", "")) if data else "",
        "has_more": start + limit < len(ordered),
    }
