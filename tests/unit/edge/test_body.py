from __future__ import annotations

import pytest

from tollway_common.contract import Endpoint
from tollway_common.errors import InvalidRequest
from tollway_edge.body import ChatHead, parse_body


def test_chat_body_keeps_every_field_it_does_not_check() -> None:
    raw = b'{"model":"m","messages":[{"role":"user","content":"x"}],"seed":7,"logprobs":true}'
    body, head = parse_body(raw, Endpoint.CHAT_COMPLETIONS)
    assert body["seed"] == 7
    assert body["logprobs"] is True
    assert isinstance(head, ChatHead)
    assert head.model == "m"


def test_stream_options_are_read() -> None:
    raw = b'{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":true}}'
    _, head = parse_body(raw, Endpoint.CHAT_COMPLETIONS)
    assert head.stream is True
    assert head.stream_options is not None
    assert head.stream_options.include_usage is True


@pytest.mark.parametrize(
    ("raw", "endpoint", "message", "param"),
    [
        (b"", Endpoint.CHAT_COMPLETIONS, "empty", None),
        (b"{", Endpoint.CHAT_COMPLETIONS, "not valid JSON", None),
        (b'"s"', Endpoint.CHAT_COMPLETIONS, "JSON object", None),
        (b'{"messages":[{}]}', Endpoint.CHAT_COMPLETIONS, "Missing required parameter", "model"),
        (b'{"model":"m"}', Endpoint.COMPLETIONS, "Missing required parameter", "prompt"),
        (b'{"model":"m","input":{}}', Endpoint.EMBEDDINGS, "Invalid value", "input"),
        (b'{"model":"","messages":[{}]}', Endpoint.CHAT_COMPLETIONS, "Invalid value", "model"),
        (b'{"model":"m"}', Endpoint.IMAGES_GENERATIONS, "Missing required parameter", "prompt"),
        (b'{"model":"m","prompt":"p","n":11}', Endpoint.IMAGES_GENERATIONS, "Invalid", "n"),
        (b'{"model":"m","input":"hi"}', Endpoint.AUDIO_SPEECH, "Missing", "voice"),
        (b'{"model":"m","input":7,"voice":"a"}', Endpoint.AUDIO_SPEECH, "Invalid value", "input"),
        (b'{"model":"m","query":"q","documents":[]}', Endpoint.RERANK, "Invalid", "documents"),
        (b'{"model":"m","query":"q","documents":[7]}', Endpoint.RERANK, "Invalid", "documents[0]"),
        (b'{"model":"m","documents":["d"]}', Endpoint.RERANK, "Missing", "query"),
    ],
)
def test_bad_bodies_say_what_and_where(
    raw: bytes, endpoint: Endpoint, message: str, param: str | None
) -> None:
    with pytest.raises(InvalidRequest, match=message) as raised:
        parse_body(raw, endpoint)
    assert raised.value.param == param
