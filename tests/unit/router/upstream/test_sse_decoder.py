from __future__ import annotations

import pytest

from tollway_router.providers.adapter import SseEvent
from tollway_router.upstream.sse_decoder import SseDecoder


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


def test_a_leading_byte_order_mark_is_dropped_even_when_split() -> None:
    decoder = SseDecoder()
    assert decoder.feed(b"\xef\xbb") == []
    assert decoder.feed(b"\xbfdata: x\n\n") == [SseEvent("x")]


def test_only_the_first_byte_order_mark_is_dropped() -> None:
    decoder = SseDecoder()
    assert decoder.feed(b"data: a\n\n") == [SseEvent("a")]
    assert decoder.feed(b"\xef\xbb\xbfdata: b\n\n") == []


def test_a_field_without_colon_has_an_empty_value() -> None:
    assert SseDecoder().feed(b"data\ndata\n\n") == [SseEvent("\n")]


def test_only_one_space_after_the_colon_is_stripped() -> None:
    assert SseDecoder().feed(b"data:  two\n\n") == [SseEvent(" two")]


def test_the_event_name_does_not_leak_into_the_next_event() -> None:
    stream = b"event: ping\n\nevent: delta\ndata: 1\n\ndata: 2\n\n"
    assert SseDecoder().feed(stream) == [SseEvent("1", event="delta"), SseEvent("2")]


def test_many_events_in_one_feed_keep_their_order() -> None:
    stream = b"".join(b"data: %d\n\n" % i for i in range(1000))
    assert SseDecoder().feed(stream) == [SseEvent(str(i)) for i in range(1000)]
