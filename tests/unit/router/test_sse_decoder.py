from __future__ import annotations

import pytest

from tollway_router.adapter import SseEvent
from tollway_router.sse_decoder import SseDecoder


def test_events_end_at_a_blank_line() -> None:
    assert SseDecoder().feed(b"data: a\n\ndata: b\n\n") == [SseEvent("a"), SseEvent("b")]


def test_partial_lines_wait_for_the_rest() -> None:
    decoder = SseDecoder()
    assert decoder.feed(b'data: {"x"') == []
    assert decoder.feed(b": 1}\n") == []
    assert decoder.feed(b"\n") == [SseEvent('{"x": 1}')]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_works(newline: bytes) -> None:
    # A trailing lone CR may be half of a CRLF, so the decoder waits for the next byte.
    stream = b"event: ping" + newline + b"data: x" + newline + newline + b": next\n"
    assert SseDecoder().feed(stream) == [SseEvent("x", event="ping")]


def test_crlf_split_across_feeds_is_one_line_end() -> None:
    decoder = SseDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.feed(b"\n\r\n") == [SseEvent("x")]


def test_multi_line_data_joins_with_newlines_and_comments_are_skipped() -> None:
    stream = b": keep-alive\ndata: one\ndata:two\nid: 7\nretry: 10\n\n"
    assert SseDecoder().feed(stream) == [SseEvent("one\ntwo")]


def test_an_event_with_no_data_is_not_dispatched() -> None:
    assert SseDecoder().feed(b"event: ping\n\n") == []


def test_byte_by_byte_feeding_gives_the_same_events() -> None:
    stream = b'data: {"a": "\xc3\xa9"}\r\n\r\ndata: [DONE]\n\n'
    decoder = SseDecoder()
    events = [event for byte in stream for event in decoder.feed(bytes([byte]))]
    assert events == [SseEvent('{"a": "\u00e9"}'), SseEvent("[DONE]")]
