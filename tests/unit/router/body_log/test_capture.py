"""The body log's pure side: who gets logged, a stream's assembled text, and the BodyEvent:
redacted before it is cut, cut on a character boundary, with every cut flagged."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tollway_common.contract import BodyEvent, Endpoint, InferRequest, Principal, ResolvedRoute
from tollway_common.forms import FormFile
from tollway_router.body_log.capture import BodyCapture, body_event, cut, stream_text, wanted
from tollway_router.body_log.redaction import Redactor
from tollway_router.settings import BodyLogMode

REDACTOR = Redactor()


def _infer(stream: bool, content: str = "I am ann@example.com") -> InferRequest:
    return InferRequest(
        request_id="r1",
        endpoint=Endpoint.CHAT_COMPLETIONS,
        principal=Principal(key_id="k", team_id="t", org_id="o"),
        route=ResolvedRoute(alias="demo"),
        received_at_ms=1000,
        deadline_ms=2000,
        stream=stream,
        body={"model": "demo", "messages": [{"role": "user", "content": content}]},
    )


def _chunk(index: int = 0, **delta: object) -> bytes:
    return orjson.dumps(
        {"object": "chat.completion.chunk", "choices": [{"index": index, "delta": delta}]}
    )


@pytest.mark.parametrize(
    ("mode", "policy", "expected"),
    [
        (BodyLogMode.POLICY, None, False),
        (BodyLogMode.POLICY, True, True),
        (BodyLogMode.POLICY, False, False),
        (BodyLogMode.ALL, None, True),
        (BodyLogMode.ALL, False, False),
        (BodyLogMode.OFF, True, False),
        (BodyLogMode.OFF, None, False),
    ],
)
def test_a_policy_decides_unless_logging_is_off(
    mode: BodyLogMode, policy: bool | None, expected: bool
) -> None:
    assert wanted(mode, policy) is expected


def test_a_stream_is_logged_as_the_text_it_spelled_out() -> None:
    chunks = [
        _chunk(role="assistant"),
        _chunk(content="Hello, "),
        _chunk(content="world"),
        _chunk(index=1, content="Second"),
        _chunk(tool_calls=[{"index": 0, "function": {"name": "lookup", "arguments": '{"q":'}}]),
        _chunk(tool_calls=[{"index": 0, "function": {"arguments": '"x"}'}}]),
        orjson.dumps({"choices": [], "usage": {"prompt_tokens": 1}}),
        b"not json",
    ]
    assert stream_text(chunks) == 'Hello, world\n[tool_call lookup] {"q":"x"}\n\nSecond'


def test_request_and_response_are_redacted_and_counted() -> None:
    capture = BodyCapture(limit=10_000)
    capture.add(_chunk(content="Hi ann@example.com, card "))
    capture.add(_chunk(content="4111 1111 1111 1111"))
    event = body_event(_infer(stream=True), capture, 200, REDACTOR, max_body_bytes=4096)
    assert event == BodyEvent(
        request_id="r1",
        received_at_ms=1000,
        principal=Principal(key_id="k", team_id="t", org_id="o"),
        model_alias="demo",
        endpoint=Endpoint.CHAT_COMPLETIONS,
        stream=True,
        status_code=200,
        request_body=(
            '{"model":"demo","messages":[{"role":"user","content":"I am [REDACTED:email]"}]}'
        ),
        response_body="Hi [REDACTED:email], card [REDACTED:card_number]",
        redactions={"email": 2, "card_number": 1},
    )


def test_a_whole_response_is_redacted_as_json_and_an_error_logged_as_its_body() -> None:
    capture = BodyCapture(limit=10_000)
    # In the JSON text the key follows `\n`: redacting the decoded string still finds it.
    capture.add(b'{"choices":[{"message":{"content":"key:\\nsk-abcdefghijklmnopqrstu"}}]}')
    event = body_event(_infer(stream=False), capture, 200, REDACTOR, 4096)
    assert orjson.loads(event.response_body) == {
        "choices": [{"message": {"content": "key:\n[REDACTED:api_key]"}}]
    }
    failed = BodyCapture(limit=10_000)
    failed.error = b'{"message":"upstream refused","type":"server_error"}'
    event = body_event(_infer(stream=False), failed, 502, REDACTOR, 4096)
    assert (event.status_code, event.response_body) == (502, failed.error.decode())


def test_cuts_come_after_redaction_and_are_flagged() -> None:
    secret = "sk-" + "a" * 40
    capture = BodyCapture(limit=10_000)
    capture.add(_chunk(content="x" * 249 + " " + secret))
    event = body_event(_infer(stream=True, content="y" * 500), capture, 200, REDACTOR, 256)
    assert (event.request_truncated, event.response_truncated) == (True, True)
    assert len(event.request_body.encode()) == 256
    assert "aaaa" not in event.response_body, "the key was redacted before the cut"
    assert event.response_body == "x" * 249 + " [REDAC"


def test_a_reply_beyond_the_capture_limit_is_flagged_as_truncated() -> None:
    capture = BodyCapture(limit=100)
    capture.add(_chunk(content="short"))
    capture.add(_chunk(content="z" * 100))
    assert capture.overflow
    event = body_event(_infer(stream=True), capture, 200, REDACTOR, 4096)
    assert (event.response_body, event.response_truncated) == ("short", True)


@settings(deadline=None)
@given(text=st.text(), limit=st.integers(min_value=0, max_value=64))
def test_a_cut_never_splits_a_character(text: str, limit: int) -> None:
    result, was_cut = cut(text, limit)
    assert len(result.encode()) <= limit or not was_cut
    assert text.startswith(result)
    assert was_cut == (len(text.encode()) > limit)


def test_an_uploaded_file_is_logged_as_its_name_type_and_size() -> None:
    audio = FormFile("talk.wav", "audio/wav", bytes(3000))
    infer = _infer(stream=False).model_copy(
        update={
            "endpoint": Endpoint.AUDIO_TRANSCRIPTIONS,
            "body": {
                "model": "whisper",
                "prompt": "mail ann@example.com",
                "file": audio.as_value(),
            },
        }
    )
    capture = BodyCapture(limit=10_000)
    capture.add(b'{"text": "hello"}')
    event = body_event(infer, capture, 200, REDACTOR, max_body_bytes=10_000)
    logged = orjson.loads(event.request_body)
    assert logged["file"] == {"filename": "talk.wav", "content_type": "audio/wav", "bytes": 3000}
    assert "ann@example.com" not in logged["prompt"]
