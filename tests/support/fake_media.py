"""The answers of OpenAI's image, audio and rerank endpoints, as the fake OpenAI upstream
gives them (`fake_openai_server.py`): deterministic, in the real wire formats.

- images: `data` of `n` images, `b64_json` for the GPT image models (with token `usage`, as
  they report) and for `response_format=b64_json`, else a `url` (DALL-E, which reports none);
- transcriptions and translations: `json` (a transcription adds duration `usage`),
  `verbose_json` (with `duration`), the text itself for `text`, `srt` and `vtt`, or with
  `stream=true` gpt-4o-transcribe's events (a delta per word, then the text with its usage);
- speech: audio bytes of the asked format, 64 bytes per character spoken, streamed in pieces;
- rerank: vLLM's answer (`results` by relevance, `usage.total_tokens`).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response, StreamingResponse

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
SPEECH_BYTES_PER_CHARACTER = 64
SPEECH_PIECE_BYTES = 4096
# The fake's audio lasts one second per kilobyte uploaded.
SECONDS_PER_KILOBYTE = 1.0
_CREATED = 1_700_000_000


def images(model: str, n: int, response_format: str | None) -> dict[str, Any]:
    gpt_image = model.startswith("gpt-image")
    b64 = gpt_image or response_format == "b64_json"
    image = (
        {"b64_json": base64.b64encode(PNG).decode()}
        if b64
        else {"url": "https://images.example.com/fake.png"}
    )
    answer: dict[str, Any] = {"created": _CREATED, "data": [image] * n}
    if gpt_image:
        answer["usage"] = {
            "input_tokens": 50,
            "output_tokens": 272 * n,
            "total_tokens": 50 + 272 * n,
            "input_tokens_details": {"text_tokens": 40, "image_tokens": 10},
        }
    return answer


async def transcript(form: FormData, translation: bool) -> Response:
    upload = form.get("file")
    assert isinstance(upload, UploadFile), "the form carries no file"
    size = len(await upload.read())
    seconds = round(size / 1024 * SECONDS_PER_KILOBYTE, 3)
    text = f"{'Translated' if translation else 'Heard'} {size} bytes of {upload.filename}."
    response_format = str(form.get("response_format") or "json")
    if form.get("stream") == "true":
        return StreamingResponse(_transcript_events(text), media_type="text/event-stream")
    if response_format == "text":
        return Response(text + "\n", media_type="text/plain")
    if response_format in ("srt", "vtt"):
        cue = f"00:00:00{',' if response_format == 'srt' else '.'}000 --> 00:00:01.000"
        head = "1\n" if response_format == "srt" else "WEBVTT\n\n"
        return Response(f"{head}{cue}\n{text}\n", media_type="text/plain")
    answer: dict[str, Any] = {"text": text}
    if response_format == "verbose_json":
        answer.update(language="english", duration=seconds, segments=[])
    elif not translation:
        answer["usage"] = {"type": "duration", "seconds": seconds}
    return Response(orjson.dumps(answer), media_type="application/json")


async def _transcript_events(text: str) -> AsyncIterator[bytes]:
    """gpt-4o-transcribe's stream: a delta per word, then the whole text with token usage."""
    words = text.split(" ")
    for index, word in enumerate(words):
        delta = word if index == len(words) - 1 else word + " "
        yield b"data: " + orjson.dumps({"type": "transcript.text.delta", "delta": delta}) + b"\n\n"
    usage = {"type": "tokens", "input_tokens": 20, "output_tokens": len(words)}
    done = {
        "type": "transcript.text.done",
        "text": text,
        "usage": {**usage, "total_tokens": 20 + len(words)},
    }
    yield b"data: " + orjson.dumps(done) + b"\n\n"


def speech(body: dict[str, Any], broken: bool = False) -> StreamingResponse:
    """`broken`: break the connection off after the first piece, as a failing upstream does."""
    response_format = str(body.get("response_format") or "mp3")
    audio = speech_audio(str(body["input"]))

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(audio), SPEECH_PIECE_BYTES):
            yield audio[start : start + SPEECH_PIECE_BYTES]
            if broken:
                raise ConnectionResetError("fake upstream breaks the audio off")

    return StreamingResponse(pieces(), media_type=AUDIO_TYPES[response_format])


def speech_audio(text: str) -> bytes:
    """The audio `speech` answers for `text`, for tests to compare with."""
    length = len(text) * SPEECH_BYTES_PER_CHARACTER
    return (bytes(range(256)) * (length // 256 + 1))[:length]


def rerank(body: dict[str, Any]) -> dict[str, Any]:
    words = set(str(body["query"]).lower().split())
    documents = body["documents"]
    scored = []
    for index, document in enumerate(documents):
        text = document if isinstance(document, str) else str(document.get("text", ""))
        hits = len(words & set(text.lower().rstrip(".").split()))
        scored.append((index, text, hits / max(1, len(words))))
    scored.sort(key=lambda item: item[2], reverse=True)
    top_n = body.get("top_n") or len(scored)
    results = [
        {
            "index": index,
            "relevance_score": score,
            **({"document": {"text": text}} if body.get("return_documents", True) else {}),
        }
        for index, text, score in scored[:top_n]
    ]
    tokens = sum(len(text.split()) for _, text, _ in scored) + len(words)
    return {
        "id": "rerank-fake-1",
        "model": body["model"],
        "usage": {"total_tokens": tokens},
        "results": results,
    }
