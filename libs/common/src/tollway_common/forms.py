"""A multipart form as it travels inside `InferRequest.body`: JSON-safe, its files in base64.

The edge reads a client's form into this shape (`tollway_edge.forms`); the router's OpenAI
adapter writes it back out as a multipart body for the upstream
(`tollway_router.providers.multipart`). A field is a string, or a list of strings when the
client repeated it (`timestamp_granularities[]`); a file is an object `{"filename",
"content_type", "base64"}`, or a list of them (`image[]`). A form field is never an object, so
an object is always a file.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from tollway_common.contract import Endpoint

# The endpoints whose requests are multipart forms (OpenAI's file uploads).
FORM_ENDPOINTS = frozenset(
    {
        Endpoint.IMAGES_EDITS,
        Endpoint.IMAGES_VARIATIONS,
        Endpoint.AUDIO_TRANSCRIPTIONS,
        Endpoint.AUDIO_TRANSLATIONS,
    }
)


@dataclass(frozen=True, slots=True)
class FormFile:
    filename: str
    content_type: str
    data: bytes

    def as_value(self) -> dict[str, str]:
        """The file as a body value."""
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "base64": base64.b64encode(self.data).decode("ascii"),
        }


def read_file(value: Any) -> FormFile | None:
    """The file a body value stands for, or None when it is a plain field (or malformed)."""
    if not isinstance(value, dict):
        return None
    encoded = value.get("base64")
    if not isinstance(encoded, str):
        return None
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return FormFile(
        filename=str(value.get("filename") or "file"),
        content_type=str(value.get("content_type") or "application/octet-stream"),
        data=data,
    )
