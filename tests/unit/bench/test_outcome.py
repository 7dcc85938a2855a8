"""What the chaos and soak clients count as an answer, an error in the client's shape, a stream
ended by an error event, a cut stream or no answer at all."""

from __future__ import annotations

import orjson
from bench.outcome import Answer, Verdict, judge


def _answer(stream: bool, status: int, body: bytes, complete: bool = True) -> Answer:
    return Answer("k", stream, 0.0, 1.0, status, "req-1", body, complete)


def _sse(*events: object) -> bytes:
    return b"".join(b"data: " + orjson.dumps(event) + b"\n\n" for event in events)


def test_a_complete_openai_stream_is_ok_with_the_usage_the_client_saw() -> None:
    body = (
        _sse(
            {"choices": [{"delta": {"content": "hi"}}]},
            {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 20}},
        )
        + b"data: [DONE]\n\n"
    )
    judged = judge(_answer(True, 200, body))
    assert (judged.verdict, judged.prompt_tokens, judged.completion_tokens) == (Verdict.OK, 12, 20)


def test_an_anthropic_stream_takes_input_tokens_from_the_start_and_output_from_the_delta() -> None:
    body = _sse(
        {"type": "message_start", "message": {"usage": {"input_tokens": 12, "output_tokens": 1}}},
        {"type": "message_delta", "usage": {"output_tokens": 20}},
        {"type": "message_stop"},
    )
    judged = judge(_answer(True, 200, body))
    assert (judged.verdict, judged.prompt_tokens, judged.completion_tokens) == (Verdict.OK, 12, 20)


def test_a_stream_ended_by_an_error_event_is_an_error_event() -> None:
    error = {"error": {"message": "router lost", "type": "server_error", "code": "router_lost"}}
    body = _sse({"choices": [{"delta": {"content": "hi"}}]}, error)
    assert judge(_answer(True, 200, body)).verdict is Verdict.ERROR_EVENT


def test_a_stream_without_its_end_is_cut() -> None:
    body = _sse({"choices": [{"delta": {"content": "hi"}}]})
    assert judge(_answer(True, 200, body, complete=False)).verdict is Verdict.CUT
    assert judge(_answer(True, 200, body, complete=True)).verdict is Verdict.CUT


def test_errors_in_openai_and_anthropic_shape_are_error_bodies() -> None:
    openai = {"error": {"message": "no router", "type": "server_error", "code": None}}
    anthropic = {"type": "error", "error": {"type": "overloaded_error", "message": "no router"}}
    assert judge(_answer(False, 503, orjson.dumps(openai))).verdict is Verdict.ERROR_BODY
    assert judge(_answer(True, 503, orjson.dumps(anthropic))).verdict is Verdict.ERROR_BODY


def test_an_error_in_no_client_shape_is_malformed() -> None:
    assert judge(_answer(False, 502, b"Bad Gateway")).verdict is Verdict.MALFORMED
    assert judge(_answer(False, 500, b'{"detail": "boom"}')).verdict is Verdict.MALFORMED


def test_no_http_answer_is_transport() -> None:
    answer = Answer("k", False, 0.0, 1.0, transport_error="ConnectionRefusedError")
    assert judge(answer).verdict is Verdict.TRANSPORT


def test_a_plain_answer_is_ok_with_its_usage() -> None:
    body = orjson.dumps({"object": "list", "usage": {"prompt_tokens": 3, "total_tokens": 3}})
    judged = judge(_answer(False, 200, body))
    assert (judged.verdict, judged.prompt_tokens, judged.completion_tokens) == (Verdict.OK, 3, 0)


def test_a_body_cut_by_the_timeout_is_cut_not_malformed() -> None:
    answer = _answer(False, 503, b'{"error": {"mess', complete=False)
    answer.transport_error = "TimeoutError"
    assert judge(answer).verdict is Verdict.CUT
