"""Who may read a stored response, input items as OpenAI lists them, a conversation rebuilt from a
chain, and input item pages."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.openai_schema import validate_openai

from tollway_common.contract import Principal
from tollway_router.responses.records import (
    Share,
    StoredResponse,
    conversation,
    input_items,
    may_read,
    page,
)

KEY_A = Principal(key_id="key-a", user_id="u1", team_id="t1", org_id="o1")
KEY_B_SAME_USER = Principal(key_id="key-b", user_id="u1", team_id="t1", org_id="o1")
KEY_C_SAME_TEAM = Principal(key_id="key-c", user_id="u2", team_id="t1", org_id="o1")
OTHER_ORG_SAME_TEAM = Principal(key_id="key-d", user_id="u1", team_id="t1", org_id="o2")
JWT_U1 = Principal(key_id="", user_id="u1", team_id="t1", org_id="o1", auth="jwt")
JWT_U2 = Principal(key_id="", user_id="u2", team_id="t1", org_id="o1", auth="jwt")
JWT_NOBODY = Principal(key_id="", user_id="", org_id="o1", auth="jwt")


@pytest.mark.parametrize(
    ("reader", "owner", "share", "allowed"),
    [
        (KEY_A, KEY_A, Share.KEY, True),
        (KEY_B_SAME_USER, KEY_A, Share.KEY, False),
        (KEY_B_SAME_USER, KEY_A, Share.USER, True),
        (KEY_C_SAME_TEAM, KEY_A, Share.USER, False),
        (KEY_C_SAME_TEAM, KEY_A, Share.TEAM, True),
        (OTHER_ORG_SAME_TEAM, KEY_A, Share.TEAM, False),
        (JWT_U1, JWT_U1, Share.KEY, True),
        (JWT_U2, JWT_U1, Share.KEY, False),
        (JWT_U1, KEY_A, Share.KEY, False),
        (JWT_U1, KEY_A, Share.USER, True),
        (JWT_NOBODY, JWT_NOBODY, Share.KEY, False),
    ],
)
def test_who_may_read_a_stored_response(
    reader: Principal, owner: Principal, share: Share, allowed: bool
) -> None:
    assert may_read(reader, owner, share) is allowed


def test_a_string_input_is_one_user_message_with_an_id() -> None:
    [item] = input_items("Hello")
    assert item["id"].startswith("msg_")
    assert item == {
        "id": item["id"],
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Hello"}],
    }


def test_items_keep_their_ids_and_get_one_where_they_had_none() -> None:
    items = input_items(
        [
            {"role": "assistant", "content": "Earlier"},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            {"type": "message", "id": "msg_mine", "role": "user", "content": "Now"},
        ]
    )
    assert [item["id"][:4] for item in items[:2]] == ["msg_", "fco_"]
    assert items[2]["id"] == "msg_mine"
    assert items[0]["content"] == [{"type": "output_text", "text": "Earlier", "annotations": []}]
    assert input_items([{"role": "user", "content": "x"}], mint_ids=False)[0].get("id") is None


def _record(response_id: str, text: str, previous: str | None = None) -> StoredResponse:
    answer = {
        "type": "message",
        "id": f"msg_out_{response_id}",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": f"re: {text}", "annotations": []}],
    }
    return StoredResponse(
        owner=KEY_A,
        created_at=1,
        input=input_items(text),
        previous_response_id=previous,
        response={"id": response_id, "object": "response", "output": [answer]},
    )


def test_a_conversation_is_every_earlier_input_and_output_oldest_first() -> None:
    first, second = _record("resp_1", "one"), _record("resp_2", "two", "resp_1")
    new = input_items("three", mint_ids=False)
    items = conversation([second, first], new)
    texts = [item["content"][0]["text"] for item in items]
    assert texts == ["one", "re: one", "two", "re: two", "three"]
    # The ids minted for listing never go upstream; the outputs' own ids do.
    assert [item.get("id") for item in items] == [
        None,
        "msg_out_resp_1",
        None,
        "msg_out_resp_2",
        None,
    ]


def _items(count: int) -> list[dict[str, Any]]:
    return [
        {"id": f"msg_{n}", "type": "message", "role": "user", "content": []} for n in range(count)
    ]


def test_a_page_of_input_items_is_newest_first_by_default_and_valid() -> None:
    listed = page(_items(5), after="", limit=2, order="desc")
    assert listed is not None
    assert [item["id"] for item in listed["data"]] == ["msg_4", "msg_3"]
    assert (listed["first_id"], listed["last_id"], listed["has_more"]) == ("msg_4", "msg_3", True)
    stored = input_items([{"role": "user", "content": "Hi"}, {"role": "user", "content": "Yo"}])
    validate_openai("ResponseItemList", page(stored, after="", limit=20, order="desc"))


def test_paging_after_an_item_continues_in_the_same_order() -> None:
    listed = page(_items(5), after="msg_1", limit=10, order="asc")
    assert listed is not None
    assert [item["id"] for item in listed["data"]] == ["msg_2", "msg_3", "msg_4"]
    assert listed["has_more"] is False
    assert page(_items(2), after="msg_9", limit=10, order="asc") is None
