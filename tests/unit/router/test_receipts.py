from __future__ import annotations

import asyncio

from nats.aio.client import Client
from nats.aio.msg import Msg

from tollway_common import contract
from tollway_common.contract import Endpoint, Principal, UsageEvent
from tollway_router.receipts import WAIT_S, Receipts, cut

EVENT = UsageEvent(
    request_id="r1",
    received_at_ms=1000,
    endpoint=Endpoint.CHAT_COMPLETIONS,
    principal=Principal(key_id="k"),
    model_alias="gpt",
    status_code=200,
    prompt_tokens=10,
    completion_tokens=20,
    total_tokens=30,
)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _receipts(published: list[UsageEvent], clock: _Clock) -> Receipts:
    async def publish(event: UsageEvent) -> None:
        published.append(event)

    # Never connected: settle() and the 503 handling need no connection.
    return Receipts(Client(), publish, clock)


def _no_responders(receipts: Receipts, request_id: str) -> Msg:
    headers = {contract.HEADER_NATS_STATUS: contract.NATS_NO_RESPONDERS}
    return Msg(Client(), subject=receipts.reply_to(request_id), headers=headers)


def test_a_cut_keeps_the_charge_and_says_what_the_client_got() -> None:
    corrected = cut(EVENT)

    assert (corrected.status_code, corrected.error_type, corrected.error_code) == (
        499,
        "client_cut",
        "edge_lost",
    )
    assert corrected.client_cut is True
    assert (corrected.prompt_tokens, corrected.completion_tokens) == (10, 20)


def test_an_answer_its_edge_took_is_published_as_it_is() -> None:
    published: list[UsageEvent] = []
    receipts = _receipts(published, _Clock())

    assert receipts.settle(EVENT) == EVENT
    assert published == []


async def test_a_503_before_the_event_is_built_cuts_the_event() -> None:
    published: list[UsageEvent] = []
    receipts = _receipts(published, _Clock())

    await receipts._on_receipt(_no_responders(receipts, "r1"))

    assert receipts.settle(EVENT) == cut(EVENT)
    assert published == []


async def test_a_503_after_the_event_went_out_publishes_the_correction() -> None:
    published: list[UsageEvent] = []
    receipts = _receipts(published, _Clock())
    receipts.settle(EVENT)

    await receipts._on_receipt(_no_responders(receipts, "r1"))
    await receipts.stop()

    assert published == [cut(EVENT)]


async def test_what_waits_for_a_503_is_forgotten_after_a_while() -> None:
    published: list[UsageEvent] = []
    clock = _Clock()
    receipts = _receipts(published, clock)
    receipts.settle(EVENT)
    await receipts._on_receipt(_no_responders(receipts, "r2"))

    clock.now += WAIT_S
    await receipts._on_receipt(_no_responders(receipts, "r1"))
    await receipts.stop()

    assert published == []
    assert receipts.settle(EVENT.model_copy(update={"request_id": "r2"})).client_cut is False


async def test_stop_drops_a_correction_that_cannot_land_in_time() -> None:
    started = asyncio.Event()

    async def publish(event: UsageEvent) -> None:
        started.set()
        await asyncio.sleep(3600)

    receipts = Receipts(Client(), publish, _Clock())
    receipts.settle(EVENT)
    await receipts._on_receipt(_no_responders(receipts, "r1"))
    await started.wait()

    await receipts.stop(grace_s=0.01)
