"""A request's reply box: items in order, a wait that ends with an item or EXPIRED, and one
timer per request however many waits it has."""

from __future__ import annotations

import asyncio

from tollway_edge.reply_box import EXPIRED, ReplyBox


async def test_items_come_in_order_and_at_once_when_waiting() -> None:
    box: ReplyBox[str] = ReplyBox(asyncio.get_running_loop())
    box.put("a")
    box.put("b")
    assert len(box) == 2
    assert [await box.next(1.0), await box.next(1.0)] == ["a", "b"]
    assert len(box) == 0
    box.close()


async def test_a_waiting_reader_gets_the_item_put_later() -> None:
    loop = asyncio.get_running_loop()
    box: ReplyBox[str] = ReplyBox(loop)
    loop.call_later(0.01, box.put, "late")
    assert await box.next(5.0) == "late"
    box.close()


async def test_silence_longer_than_the_timeout_expires_the_wait() -> None:
    loop = asyncio.get_running_loop()
    box: ReplyBox[str] = ReplyBox(loop)
    started = loop.time()
    assert await box.next(0.05) is EXPIRED
    assert loop.time() - started >= 0.05
    box.close()


async def test_each_wait_gets_its_full_timeout_from_one_timer() -> None:
    # The timer armed by the first wait fires while the second waits: it moves on, it does
    # not expire a wait that began later.
    loop = asyncio.get_running_loop()
    box: ReplyBox[str] = ReplyBox(loop)
    loop.call_later(0.06, box.put, "first")
    assert await box.next(0.1) == "first"
    loop.call_later(0.08, box.put, "second")
    assert await box.next(0.1) == "second"
    box.close()


async def test_a_timer_firing_while_the_reader_is_busy_expires_nothing() -> None:
    loop = asyncio.get_running_loop()
    box: ReplyBox[str] = ReplyBox(loop)
    loop.call_later(0.01, box.put, "first")
    assert await box.next(0.03) == "first"
    await asyncio.sleep(0.06)  # the reader is away when the timer fires
    box.put("second")
    assert await box.next(0.03) == "second"
    assert len(box) == 0
    box.close()
