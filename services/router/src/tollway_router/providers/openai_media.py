"""OpenAI's image, audio and rerank endpoints on the OpenAI wire (`openai.py` builds and
parses through these): which answers are relayed as bytes rather than parsed as JSON, and
the usage each answer reports, in tokens or in the units the provider bills these in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tollway_common.contract import Endpoint, Usage

IMAGE_ENDPOINTS = frozenset(
    {Endpoint.IMAGES_GENERATIONS, Endpoint.IMAGES_EDITS, Endpoint.IMAGES_VARIATIONS}
)
TRANSCRIPT_ENDPOINTS = frozenset({Endpoint.AUDIO_TRANSCRIPTIONS, Endpoint.AUDIO_TRANSLATIONS})
# The transcript formats that are not JSON: the answer is the text itself.
TEXT_FORMATS = frozenset({"text", "srt", "vtt"})


def relays(endpoint: Endpoint, body: Mapping[str, Any]) -> bool:
    """Whether the answer goes to the client as the upstream's bytes: speech is audio; a
    transcript is text, srt or vtt when asked for, and server-sent events when streamed."""
    if endpoint is Endpoint.AUDIO_SPEECH:
        return True
    if endpoint not in TRANSCRIPT_ENDPOINTS:
        return False
    streamed = str(body.get("stream", "")).lower() == "true"
    return streamed or body.get("response_format") in TEXT_FORMATS


def relayed_usage(endpoint: Endpoint, body: Mapping[str, Any]) -> Usage | None:
    """What a relayed answer used, known from the request alone: speech, the characters it
    spoke. A relayed transcript reports nothing (its prompt is estimated)."""
    text = body.get("input")
    if endpoint is Endpoint.AUDIO_SPEECH and isinstance(text, str):
        return Usage(characters=len(text))
    return None


def answer_usage(endpoint: Endpoint, answer: Mapping[str, Any]) -> Usage | None:
    """The usage a JSON answer of a media or rerank endpoint reports; None for the others."""
    if endpoint in IMAGE_ENDPOINTS:
        return _image_usage(answer)
    if endpoint in TRANSCRIPT_ENDPOINTS:
        return _transcript_usage(answer)
    if endpoint is Endpoint.RERANK:
        return _rerank_usage(answer)
    return None


def _image_usage(answer: Mapping[str, Any]) -> Usage:
    # gpt-image models report tokens (`input_tokens`, `output_tokens`); DALL-E reports none,
    # and is billed per image: the images made are counted either way.
    data = answer.get("data")
    images = len(data) if isinstance(data, list) else 0
    return Usage(**_input_output(answer.get("usage")), images=images)


def _transcript_usage(answer: Mapping[str, Any]) -> Usage | None:
    usage = answer.get("usage")
    if isinstance(usage, dict) and usage.get("type") == "duration":
        return Usage(audio_seconds=_seconds(usage.get("seconds")))
    if isinstance(usage, dict):
        return Usage(**_input_output(usage))
    duration = _seconds(answer.get("duration"))  # verbose_json
    return Usage(audio_seconds=duration) if duration else None


def _rerank_usage(answer: Mapping[str, Any]) -> Usage | None:
    # vLLM and Jina report the tokens read as `total_tokens` (vLLM adds `prompt_tokens`).
    usage = answer.get("usage")
    if not isinstance(usage, dict):
        return None
    read = _count(usage.get("prompt_tokens")) or _count(usage.get("total_tokens"))
    return Usage(prompt_tokens=read, total_tokens=read)


def _input_output(usage: Any) -> dict[str, int]:
    if not isinstance(usage, dict):
        return {}
    prompt, completion = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": _count(usage.get("total_tokens")) or prompt + completion,
    }


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    seconds = float(value)
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0
