"""Images, audio and rerank through the whole stack with the openai SDK: JSON and multipart
requests passed through to OpenAI-compatible deployments, speech and plain-text transcripts
relayed as bytes, each metered in its units (images, audio seconds, characters, tokens), and
a model whose provider lacks the endpoint refused with a 400 naming it."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Literal, cast

import httpx
import openai
import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI
from tests.support import fake_media
from tests.support.analytics import wait_for_usage
from tests.support.configs import UPSTREAM_SECRET, gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack, open_stack

from tollway_common.config_file import BootstrapKey
from tollway_common.contract import Endpoint, UsageRow
from tollway_common.control import Budget, Deployment, ModelAlias, Price

# Alias -> the upstream model its one deployment names.
MEDIA_MODELS = {
    "image-gen": "gpt-image-1",
    "dalle": "dall-e-2",
    "whisper": "whisper-1",
    "tts": "tts-1",
    # Its own deployment, so the failure a test provokes leaves the others' health alone.
    "tts-failing": "tts-1",
    "reranker": "bge-reranker-v2-m3",
}
AUDIO = b"RIFF" + bytes(2044)  # 2 KiB: the fake hears two seconds
BUDGETED_KEY = "sk-tollway-budgeted-0123456789abcdef"
# OpenAI's prices for DALL-E 2 (1024x1024), whisper-1 and tts-1.
PRICES = [
    Price(
        model="dalle",
        input_per_mtok=Decimal(0),
        output_per_mtok=Decimal(0),
        per_image=Decimal("0.02"),
    ),
    Price(
        model="whisper",
        input_per_mtok=Decimal(0),
        output_per_mtok=Decimal(0),
        per_audio_minute=Decimal("0.006"),
    ),
    Price(
        model="tts", input_per_mtok=Decimal(0), output_per_mtok=Decimal(0), per_mchar=Decimal(15)
    ),
]


def _media_models(workdir: Path, base_url: str) -> list[ModelAlias]:
    return [
        ModelAlias(
            name=alias,
            deployments=[
                Deployment(
                    name=f"fake-{alias}",
                    provider="openai",
                    model=model,
                    api_base=base_url,
                    api_key=f"file:{workdir / 'secrets' / 'upstream'}",
                )
            ],
        )
        for alias, model in MEDIA_MODELS.items()
    ]


@pytest.fixture(scope="module")
def media_stack(
    tmp_path_factory: pytest.TempPathFactory, module_upstream: FakeOpenAIServer
) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("media")
    with ExitStack() as cleanup:
        stack = open_stack(workdir, cleanup)
        (workdir / "secrets").mkdir()
        models = _media_models(workdir, module_upstream.base_url)
        config = gateway_config(workdir, module_upstream.base_url, models)
        (workdir / "secrets" / "budgeted-key").write_text(BUDGETED_KEY)
        budgeted = BootstrapKey(
            name="budgeted",
            secret=f"file:{workdir / 'secrets' / 'budgeted-key'}",
            budget_ids=["images"],
        )
        stack.apply(
            config.model_copy(
                update={
                    "prices": PRICES,
                    "budgets": [Budget(budget_id="images", amount=Decimal("0.05"))],
                    "keys": [*config.keys, budgeted],
                }
            )
        )
        stack.start_router()
        stack.start_edge()
        stack.start_metering()
        yield stack


@pytest.fixture
def client(media_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=media_stack.base_url, api_key=api_key, max_retries=0)


async def _rows(stack: Stack, request_ids: list[str]) -> dict[str, UsageRow]:
    rows = await wait_for_usage(stack.nats.url_as("test"), request_ids)
    return {row.request_id: row for row in rows}


def _units(row: UsageRow) -> tuple[str, int, float, int, int, int]:
    return (
        row.endpoint,
        row.images,
        row.audio_seconds,
        row.characters,
        row.prompt_tokens,
        row.completion_tokens,
    )


async def test_image_generation_passes_through_and_is_metered_in_images_and_tokens(
    client: AsyncOpenAI, media_stack: Stack, shared_upstream: FakeOpenAIServer
) -> None:
    async with client:
        gpt = await client.images.with_raw_response.generate(
            model="image-gen", prompt="a lighthouse at dawn", n=2
        )
        dalle = await client.images.with_raw_response.generate(
            model="dalle", prompt="a lighthouse at dawn", n=3, response_format="url"
        )
    validate_openai("ImagesResponse", gpt.http_response.json())
    validate_openai("ImagesResponse", dalle.http_response.json())
    images = gpt.parse()
    assert images.data is not None
    assert [base64.b64decode(image.b64_json or "") for image in images.data] == [fake_media.PNG] * 2
    assert [request.json for request in shared_upstream.requests] == [
        {"model": "gpt-image-1", "prompt": "a lighthouse at dawn", "n": 2},
        {"model": "dall-e-2", "prompt": "a lighthouse at dawn", "n": 3, "response_format": "url"},
    ]
    assert shared_upstream.requests[0].headers["authorization"] == f"Bearer {UPSTREAM_SECRET}"
    rows = await _rows(media_stack, [gpt.headers["x-request-id"], dalle.headers["x-request-id"]])
    # gpt-image-1 reports tokens; DALL-E reports none and is counted in images.
    assert _units(rows[gpt.headers["x-request-id"]]) == ("images_generations", 2, 0.0, 0, 50, 544)
    assert _units(rows[dalle.headers["x-request-id"]])[:3] == ("images_generations", 3, 0.0)
    assert rows[dalle.headers["x-request-id"]].completion_tokens == 0
    assert Decimal(rows[dalle.headers["x-request-id"]].cost) == 3 * Decimal("0.02")


async def test_a_budget_reserves_the_images_a_request_asks_for(media_stack: Stack) -> None:
    # The budget holds 0.05: three images at 0.02 cannot fit, two can.
    client = AsyncOpenAI(base_url=media_stack.base_url, api_key=BUDGETED_KEY, max_retries=0)
    async with client:
        with pytest.raises(openai.RateLimitError) as refused:
            await client.images.generate(model="dalle", prompt="a lighthouse", n=3)
        images = await client.images.generate(model="dalle", prompt="a lighthouse", n=2)
    assert refused.value.code == "insufficient_quota"
    assert len(images.data or []) == 2


async def test_an_image_edit_uploads_its_files_as_a_multipart_form(
    client: AsyncOpenAI, media_stack: Stack, shared_upstream: FakeOpenAIServer
) -> None:
    async with client:
        raw = await client.images.with_raw_response.edit(
            model="image-gen",
            image=[
                ("one.png", fake_media.PNG, "image/png"),
                ("two.png", b"\x89PNG two", "image/png"),
            ],
            mask=("mask.png", fake_media.PNG, "image/png"),
            prompt="add a boat",
            n=1,
        )
    validate_openai("ImagesResponse", raw.http_response.json())
    [sent] = shared_upstream.requests
    assert sent.path == "/v1/images/edits"
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert sent.json == {
        "model": "gpt-image-1",
        "prompt": "add a boat",
        "n": "1",
        "image[]": [
            {"filename": "one.png", "content_type": "image/png", "size": len(fake_media.PNG)},
            {"filename": "two.png", "content_type": "image/png", "size": 8},
        ],
        "mask": {"filename": "mask.png", "content_type": "image/png", "size": len(fake_media.PNG)},
    }
    rows = await _rows(media_stack, [raw.headers["x-request-id"]])
    assert _units(rows[raw.headers["x-request-id"]])[:2] == ("images_edits", 1)


async def test_an_image_variation_is_served(
    client: AsyncOpenAI, shared_upstream: FakeOpenAIServer
) -> None:
    # The SDK marks variations deprecated (OpenAI serves them on DALL-E 2 alone), yet serves them.
    async with client:
        with pytest.deprecated_call():
            raw = await client.images.with_raw_response.create_variation(
                model="dalle", image=("cat.png", fake_media.PNG, "image/png"), n=2
            )
    validate_openai("ImagesResponse", raw.http_response.json())
    assert len(raw.parse().data or []) == 2
    assert shared_upstream.requests[0].json["model"] == "dall-e-2"


async def test_a_transcription_in_json_is_metered_in_audio_seconds(
    client: AsyncOpenAI, media_stack: Stack, shared_upstream: FakeOpenAIServer
) -> None:
    async with client:
        raw = await client.audio.transcriptions.with_raw_response.create(
            model="whisper",
            file=("talk.wav", AUDIO, "audio/wav"),
            timestamp_granularities=["word", "segment"],
        )
    validate_openai("CreateTranscriptionResponseJson", raw.http_response.json())
    assert raw.parse().text == f"Heard {len(AUDIO)} bytes of talk.wav."
    assert shared_upstream.requests[0].json == {
        "model": "whisper-1",
        "file": {"filename": "talk.wav", "content_type": "audio/wav", "size": len(AUDIO)},
        "timestamp_granularities[]": ["word", "segment"],
    }
    rows = await _rows(media_stack, [raw.headers["x-request-id"]])
    assert _units(rows[raw.headers["x-request-id"]])[:3] == ("audio_transcriptions", 0, 2.0)
    assert Decimal(rows[raw.headers["x-request-id"]].cost) == 2 * Decimal("0.006") / 60


@pytest.mark.parametrize("response_format", ["text", "srt", "vtt"])
async def test_a_transcript_in_text_comes_back_as_the_upstream_wrote_it(
    client: AsyncOpenAI, response_format: str
) -> None:
    async with client:
        raw = await client.audio.transcriptions.with_raw_response.create(
            model="whisper",
            file=("talk.wav", AUDIO, "audio/wav"),
            # The SDK types one overload per format; the three answer alike.
            response_format=cast(Literal["text"], response_format),
        )
    assert raw.headers["content-type"].startswith("text/plain")
    assert f"Heard {len(AUDIO)} bytes of talk.wav." in raw.http_response.text
    if response_format == "vtt":
        assert raw.http_response.text.startswith("WEBVTT")


async def test_a_streamed_transcript_reaches_the_client_as_the_upstreams_events(
    client: AsyncOpenAI,
) -> None:
    async with client:
        stream = await client.audio.transcriptions.create(
            model="whisper", file=("talk.wav", AUDIO, "audio/wav"), stream=True
        )
        events = [event async for event in stream]
    for event in events:
        validate_openai(
            "CreateTranscriptionResponseStreamEvent", event.model_dump(exclude_unset=True)
        )
    *deltas, done = events
    assert {event.type for event in deltas} == {"transcript.text.delta"}
    assert done.type == "transcript.text.done"
    text = f"Heard {len(AUDIO)} bytes of talk.wav."
    assert "".join(getattr(event, "delta", "") for event in deltas) == done.text == text


async def test_a_translation_is_served_and_verbose_json_meters_its_duration(
    client: AsyncOpenAI, media_stack: Stack
) -> None:
    # The SDK marks translations deprecated (whisper-1 alone offers them), yet serves them.
    async with client:
        with pytest.deprecated_call():
            plain = await client.audio.translations.with_raw_response.create(
                model="whisper", file=("talk.wav", AUDIO, "audio/wav")
            )
        with pytest.deprecated_call():
            verbose = await client.audio.translations.with_raw_response.create(
                model="whisper",
                file=("talk.wav", AUDIO, "audio/wav"),
                response_format="verbose_json",
            )
    validate_openai("CreateTranslationResponseJson", plain.http_response.json())
    validate_openai("CreateTranslationResponseVerboseJson", verbose.http_response.json())
    rows = await _rows(media_stack, [verbose.headers["x-request-id"]])
    assert _units(rows[verbose.headers["x-request-id"]])[:3] == ("audio_translations", 0, 2.0)


async def test_speech_is_audio_bytes_streamed_and_metered_in_characters(
    client: AsyncOpenAI, media_stack: Stack
) -> None:
    text = "Tollway speaks." * 20
    async with client:
        whole = await client.audio.speech.with_raw_response.create(
            model="tts", voice="alloy", input=text
        )
        async with client.audio.speech.with_streaming_response.create(
            model="tts", voice="alloy", input=text, response_format="wav"
        ) as streamed:
            pieces = [piece async for piece in streamed.iter_bytes()]
            streamed_id = streamed.headers["x-request-id"]
            streamed_type = streamed.headers["content-type"]
    assert whole.headers["content-type"] == "audio/mpeg"
    assert whole.http_response.content == fake_media.speech_audio(text)
    assert streamed_type == "audio/wav"  # the upstream's type, never text/event-stream
    assert b"".join(pieces) == fake_media.speech_audio(text)
    rows = await _rows(media_stack, [whole.headers["x-request-id"], streamed_id])
    for request_id in (whole.headers["x-request-id"], streamed_id):
        assert _units(rows[request_id])[:4] == ("audio_speech", 0, 0.0, len(text))
        assert Decimal(rows[request_id].cost) == len(text) * Decimal(15) / 1_000_000


async def _read_into(response: httpx.Response, pieces: list[bytes]) -> None:
    async for piece in response.aiter_bytes():
        pieces.append(piece)


async def test_speech_that_breaks_off_midway_is_broken_off_for_the_client_too(
    media_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(kind="reset_stream")
    body = {"model": "tts-failing", "voice": "alloy", "input": "Tollway speaks." * 20}
    headers = {"authorization": f"Bearer {api_key}"}
    received: list[bytes] = []
    async with (
        httpx.AsyncClient(base_url=media_stack.base_url, headers=headers) as http,
        http.stream("POST", "/audio/speech", json=body) as response,
    ):
        assert response.status_code == 200
        request_id = response.headers["x-request-id"]
        with pytest.raises(httpx.RemoteProtocolError):
            await _read_into(response, received)
    # What arrived is the start of the audio, and the client knows it is not the whole.
    assert fake_media.speech_audio(body["input"]).startswith(b"".join(received))
    rows = await _rows(media_stack, [request_id])
    assert (rows[request_id].endpoint, rows[request_id].status_code) == ("audio_speech", 502)


async def test_rerank_passes_through_in_the_vllm_shape(
    client: AsyncOpenAI, media_stack: Stack, shared_upstream: FakeOpenAIServer
) -> None:
    documents = ["The sea is blue.", "Bread needs flour and water.", "A blue whale in the sea."]
    async with client:
        raw = await client.post(
            "/rerank",
            body={
                "model": "reranker",
                "query": "blue sea",
                "documents": documents,
                "top_n": 2,
                "return_documents": True,
            },
            cast_to=httpx.Response,
        )
    answer = raw.json()
    assert [result["index"] for result in answer["results"]] == [0, 2]
    assert answer["results"][0]["document"] == {"text": documents[0]}
    assert shared_upstream.requests[0].json["model"] == "bge-reranker-v2-m3"
    rows = await _rows(media_stack, [raw.headers["x-request-id"]])
    row = rows[raw.headers["x-request-id"]]
    assert (row.endpoint, row.prompt_tokens, row.usage_estimated) == ("rerank", 17, False)


def _unsupported_calls(client: AsyncOpenAI) -> dict[Endpoint, Callable[[], Awaitable[object]]]:
    return {
        Endpoint.IMAGES_GENERATIONS: lambda: client.images.generate(
            model="tollway-demo", prompt="x"
        ),
        Endpoint.AUDIO_TRANSCRIPTIONS: lambda: client.audio.transcriptions.create(
            model="tollway-demo", file=("a.wav", AUDIO, "audio/wav")
        ),
        Endpoint.AUDIO_SPEECH: lambda: client.audio.speech.create(
            model="tollway-demo", voice="alloy", input="x"
        ),
    }


@pytest.mark.parametrize(
    "endpoint", [Endpoint.IMAGES_GENERATIONS, Endpoint.AUDIO_TRANSCRIPTIONS, Endpoint.AUDIO_SPEECH]
)
async def test_a_model_whose_provider_lacks_the_endpoint_is_refused_naming_it(
    client: AsyncOpenAI, endpoint: Endpoint
) -> None:
    call = _unsupported_calls(client)[endpoint]
    async with client:
        with pytest.raises(openai.BadRequestError) as refused:
            await call()
    validate_openai("ErrorResponse", refused.value.response.json())
    assert refused.value.code == "unsupported_endpoint"
    assert endpoint.value in refused.value.message


async def test_a_form_without_a_model_or_its_file_is_a_400_naming_it(
    media_stack: Stack, api_key: str
) -> None:
    headers = {"authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=media_stack.base_url, headers=headers) as http:
        no_model = await http.post(
            "/audio/transcriptions", files={"file": ("a.wav", AUDIO, "audio/wav")}
        )
        no_file = await http.post("/audio/transcriptions", files={"model": (None, "whisper")})
        not_a_form = await http.post("/audio/transcriptions", json={"model": "whisper"})
    for response, param in ((no_model, "model"), (no_file, "file"), (not_a_form, None)):
        assert response.status_code == 400
        validate_openai("ErrorResponse", response.json())
        assert response.json()["error"]["param"] == param


async def test_an_upload_larger_than_the_bus_carries_is_a_413(client: AsyncOpenAI) -> None:
    # Under the edge's 8 MB body limit, but its base64 is more than NATS's 8 MB payload.
    audio = bytes(6_500_000)
    async with client:
        with pytest.raises(openai.APIStatusError) as refused:
            await client.audio.transcriptions.create(
                model="whisper", file=("long.wav", audio, "audio/wav")
            )
    assert refused.value.status_code == 413
    validate_openai("ErrorResponse", refused.value.response.json())


async def test_an_azure_client_transcribes_on_a_deployment_path(
    media_stack: Stack, api_key: str, shared_upstream: FakeOpenAIServer
) -> None:
    client = AsyncAzureOpenAI(
        azure_endpoint=media_stack.edge_url,
        azure_deployment="whisper",
        api_key=api_key,
        api_version="2024-10-21",
        max_retries=0,
    )
    async with client:
        raw = await client.audio.transcriptions.with_raw_response.create(
            model="ignored-by-the-path", file=("talk.wav", AUDIO, "audio/wav")
        )
    assert raw.http_request.url.path == "/openai/deployments/whisper/audio/transcriptions"
    validate_openai("CreateTranscriptionResponseJson", raw.http_response.json())
    assert shared_upstream.requests[0].json["model"] == "whisper-1"
