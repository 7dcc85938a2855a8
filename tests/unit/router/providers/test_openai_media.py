"""The OpenAI wire's image, audio and rerank endpoints: the calls built for them (JSON,
multipart, relayed answers), on OpenAI's and Azure's paths, and the usage read from their
answers in the units they report."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tollway_common.contract import Endpoint, RequestFacts, Usage
from tollway_common.control import Deployment
from tollway_common.forms import FormFile
from tollway_router.providers import azure_openai, openai, openai_media

OPENAI = Deployment(name="oai", provider="openai", model="whisper-1")
AZURE = Deployment(name="az", provider="azure_openai", model="whisper")
AUDIO = FormFile("talk.wav", "audio/wav", b"RIFF")


def _form(**fields: Any) -> dict[str, Any]:
    return {"model": "alias", "file": AUDIO.as_value(), **fields}


def test_a_json_endpoint_is_sent_as_json_with_the_deployments_model() -> None:
    body = {"model": "alias", "prompt": "a cat", "n": 2}
    call = openai.build_request(Endpoint.IMAGES_GENERATIONS, body, RequestFacts(), OPENAI)
    assert (call.path, call.relay, call.stream) == ("/images/generations", False, False)
    assert orjson.loads(call.body) == {**body, "model": "whisper-1"}


def test_a_form_endpoint_is_sent_as_multipart_with_the_deployments_model() -> None:
    call = openai.build_request(Endpoint.AUDIO_TRANSCRIPTIONS, _form(), RequestFacts(), OPENAI)
    assert call.path == "/audio/transcriptions"
    assert call.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="model"\r\n\r\nwhisper-1\r\n' in call.body
    assert b'filename="talk.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n' in call.body


@pytest.mark.parametrize(
    ("endpoint", "body", "relayed"),
    [
        (Endpoint.AUDIO_SPEECH, {"input": "hi", "voice": "alloy"}, True),
        (Endpoint.AUDIO_TRANSCRIPTIONS, _form(), False),
        (Endpoint.AUDIO_TRANSCRIPTIONS, _form(response_format="verbose_json"), False),
        (Endpoint.AUDIO_TRANSCRIPTIONS, _form(response_format="srt"), True),
        (Endpoint.AUDIO_TRANSLATIONS, _form(response_format="text"), True),
        (Endpoint.AUDIO_TRANSCRIPTIONS, _form(stream="true"), True),
        (Endpoint.RERANK, {"query": "q", "documents": ["d"]}, False),
    ],
)
def test_audio_and_text_answers_are_relayed_as_bytes(
    endpoint: Endpoint, body: dict[str, Any], relayed: bool
) -> None:
    call = openai.build_request(endpoint, {"model": "m", **body}, RequestFacts(), OPENAI)
    assert call.relay is relayed


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [
        (Endpoint.IMAGES_GENERATIONS, "/openai/deployments/whisper/images/generations"),
        (Endpoint.IMAGES_EDITS, "/openai/deployments/whisper/images/edits"),
        (Endpoint.AUDIO_TRANSCRIPTIONS, "/openai/deployments/whisper/audio/transcriptions"),
        (Endpoint.AUDIO_SPEECH, "/openai/deployments/whisper/audio/speech"),
    ],
)
def test_azure_serves_them_on_its_deployment_paths(endpoint: Endpoint, path: str) -> None:
    body = _form(prompt="p", input="hi", voice="alloy")
    call = azure_openai.build_request(endpoint, body, RequestFacts(), AZURE)
    assert (call.path, call.query) == (path, {"api-version": "2024-10-21"})


@pytest.mark.parametrize(
    ("endpoint", "answer", "usage"),
    [
        (
            Endpoint.IMAGES_GENERATIONS,
            {
                "data": [{"b64_json": "x"}, {"b64_json": "y"}],
                "usage": {
                    "input_tokens": 50,
                    "output_tokens": 544,
                    "total_tokens": 594,
                    "input_tokens_details": {"text_tokens": 50, "image_tokens": 0},
                },
            },
            Usage(prompt_tokens=50, completion_tokens=544, total_tokens=594, images=2),
        ),
        (Endpoint.IMAGES_VARIATIONS, {"data": [{"url": "u"}] * 3}, Usage(images=3)),
        (
            Endpoint.AUDIO_TRANSCRIPTIONS,
            {"text": "t", "usage": {"type": "duration", "seconds": 12.5}},
            Usage(audio_seconds=12.5),
        ),
        (
            Endpoint.AUDIO_TRANSCRIPTIONS,
            {"text": "t", "usage": {"type": "tokens", "input_tokens": 80, "output_tokens": 9}},
            Usage(prompt_tokens=80, completion_tokens=9, total_tokens=89),
        ),
        (
            Endpoint.AUDIO_TRANSLATIONS,
            {"text": "t", "language": "english", "duration": 3.25},
            Usage(audio_seconds=3.25),
        ),
        (Endpoint.AUDIO_TRANSLATIONS, {"text": "t"}, None),
        (
            Endpoint.RERANK,
            {"results": [], "usage": {"total_tokens": 17}},
            Usage(prompt_tokens=17, total_tokens=17),
        ),
        (Endpoint.RERANK, {"results": [], "meta": {"billed_units": {"search_units": 1}}}, None),
    ],
)
def test_usage_is_read_in_the_units_each_answer_reports(
    endpoint: Endpoint, answer: dict[str, Any], usage: Usage | None
) -> None:
    parsed = openai.parse_response(endpoint, orjson.dumps(answer), OPENAI)
    assert parsed.usage == usage


def test_speech_is_metered_in_the_characters_it_spoke() -> None:
    usage = openai.ADAPTER.relayed_usage(Endpoint.AUDIO_SPEECH, {"input": "héllo"})
    assert usage == Usage(characters=5)
    assert openai_media.relayed_usage(Endpoint.AUDIO_TRANSCRIPTIONS, _form()) is None
