"""Reading the multipart forms of image edits, variations, transcriptions and translations:
the JSON-safe body the router receives, and the 400s a bad form gets. Forms are built by
httpx, as a client would send them."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tollway_common.contract import Endpoint
from tollway_common.errors import InvalidRequest
from tollway_common.forms import read_file
from tollway_edge.forms import MAX_FIELD_BYTES, MAX_FIELDS, MAX_FILES, parse_form

AUDIO = b"RIFF\x00\x01\x02 audio"


def _form(data: Any = None, files: Any = None) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://edge/v1", data=data, files=files)
    return request.read(), request.headers["content-type"]


async def test_fields_stay_text_and_files_travel_in_base64() -> None:
    raw, content_type = _form(
        data={
            "model": "whisper",
            "language": "de",
            "timestamp_granularities[]": ["word", "segment"],
        },
        files={"file": ("talk.wav", AUDIO, "audio/wav")},
    )
    body, head = await parse_form(raw, content_type, Endpoint.AUDIO_TRANSCRIPTIONS)
    assert body == {
        "model": "whisper",
        "language": "de",
        "timestamp_granularities[]": ["word", "segment"],
        "file": {
            "filename": "talk.wav",
            "content_type": "audio/wav",
            "base64": base64.b64encode(AUDIO).decode(),
        },
    }
    assert head.model == "whisper"
    file = read_file(body["file"])
    assert file is not None
    assert file.data == AUDIO


async def test_several_images_become_a_list_and_numbers_are_read_from_text() -> None:
    raw, content_type = _form(
        data={"model": "img", "prompt": "add a boat", "n": "3"},
        files=[
            ("image[]", ("a.png", b"a", "image/png")),
            ("image[]", ("b.png", b"b", "image/png")),
        ],
    )
    body, head = await parse_form(raw, content_type, Endpoint.IMAGES_EDITS)
    assert [read_file(item).filename for item in body["image[]"]] == ["a.png", "b.png"]  # type: ignore[union-attr]
    assert body["n"] == "3"  # carried as the client sent it
    assert head.model_dump()["n"] == 3


async def test_the_path_names_the_model_over_the_form() -> None:
    raw, content_type = _form(data={"model": "other"}, files={"file": ("a.wav", AUDIO)})
    body, head = await parse_form(raw, content_type, Endpoint.AUDIO_TRANSLATIONS, model="whisper")
    assert (body["model"], head.model) == ("whisper", "whisper")


@pytest.mark.parametrize(
    ("endpoint", "data", "files", "message", "param"),
    [
        (Endpoint.AUDIO_TRANSCRIPTIONS, {}, {"file": ("a.wav", AUDIO)}, "Missing", "model"),
        (Endpoint.AUDIO_TRANSCRIPTIONS, {"model": "w"}, {"f": ("a.wav", AUDIO)}, "'file'", "file"),
        (Endpoint.IMAGES_VARIATIONS, {"model": "d"}, {"file": ("a.png", b"x")}, "'image'", "image"),
        (Endpoint.IMAGES_EDITS, {"model": "d"}, {"image": ("a.png", b"x")}, "Missing", "prompt"),
        (
            Endpoint.IMAGES_EDITS,
            {"model": "d", "prompt": "p", "n": "11"},
            {"image": ("a.png", b"x")},
            "Invalid value",
            "n",
        ),
        (
            Endpoint.AUDIO_TRANSCRIPTIONS,
            {"model": "w", "response_format": "mp3"},
            {"file": ("a.wav", AUDIO)},
            "Invalid value",
            "response_format",
        ),
        (
            Endpoint.AUDIO_TRANSCRIPTIONS,
            {"model": ["w", "x"]},
            {"file": ("a.wav", AUDIO)},
            "send it once",
            "model",
        ),
        (
            Endpoint.AUDIO_TRANSCRIPTIONS,
            {"model": "w"},
            {"model": ("model.txt", b"w")},
            "send it once",
            "model",
        ),
    ],
)
async def test_a_bad_form_is_a_400_naming_the_field(
    endpoint: Endpoint, data: Any, files: Any, message: str, param: str
) -> None:
    raw, content_type = _form(data=data, files=files)
    with pytest.raises(InvalidRequest, match=message) as refused:
        await parse_form(raw, content_type, endpoint)
    assert refused.value.param == param


async def test_a_json_body_is_told_to_send_a_form() -> None:
    with pytest.raises(InvalidRequest, match="multipart/form-data"):
        await parse_form(b'{"model":"w"}', "application/json", Endpoint.AUDIO_TRANSCRIPTIONS)


@pytest.mark.parametrize(
    ("data", "files"),
    [
        ({f"field{i}": "x" for i in range(MAX_FIELDS + 1)}, {"file": ("a.wav", AUDIO)}),
        ({"model": "w"}, [("file", (f"{i}.wav", AUDIO)) for i in range(MAX_FILES + 1)]),
        ({"model": "w", "prompt": "x" * (MAX_FIELD_BYTES + 1)}, {"file": ("a.wav", AUDIO)}),
    ],
    ids=["too many fields", "too many files", "a field too large"],
)
async def test_a_form_past_its_limits_is_a_400(data: Any, files: Any) -> None:
    raw, content_type = _form(data=data, files=files)
    with pytest.raises(InvalidRequest, match="multipart form cannot be read"):
        await parse_form(raw, content_type, Endpoint.AUDIO_TRANSCRIPTIONS)


async def test_a_broken_form_is_a_400() -> None:
    raw, content_type = _form(data={"model": "w"}, files={"file": ("a.wav", AUDIO)})
    with pytest.raises(InvalidRequest):
        await parse_form(raw[: len(raw) // 2], content_type, Endpoint.AUDIO_TRANSCRIPTIONS)
