"""Read and check a client's multipart form (image edits and variations, transcriptions,
translations) into the JSON-safe shape `tollway_common.forms` describes.

The body has already been read whole within the size limit and the deadline (`body.py`);
parsing it here costs CPU only. As for JSON bodies, the edge checks just what it acts on (the
model, the file the endpoint needs, counts and sizes) and carries every other field as it came.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from tollway_common.contract import Endpoint
from tollway_common.errors import InvalidRequest
from tollway_common.forms import FormFile
from tollway_edge.body import Head, invalid

# Generous for OpenAI's forms (about a dozen fields, up to 16 images on an edit), small
# enough that a form of thousands of tiny parts cannot make the edge churn.
MAX_FIELDS = 64
MAX_FILES = 16
# A field that is not a file: a prompt (gpt-image-1 takes 32 000 characters) fits.
MAX_FIELD_BYTES = 64 * 1024


class FormHead(Head):
    # Every form value arrives as text: "2" is read as the number 2, "true" as true.
    model_config = ConfigDict(extra="allow", strict=False)


class ImageEditForm(FormHead):
    prompt: str = Field(min_length=1)
    n: int | None = Field(default=None, ge=1, le=10)


class ImageVariationForm(FormHead):
    n: int | None = Field(default=None, ge=1, le=10)


class TranscriptionForm(FormHead):
    response_format: (
        Literal["json", "text", "srt", "verbose_json", "vtt", "diarized_json"] | None
    ) = None
    temperature: float | None = Field(default=None, ge=0, le=1)


class TranslationForm(TranscriptionForm):
    pass


# Each form's head and the file field it cannot do without (`image[]` counts as `image`).
_FORMS: dict[Endpoint, tuple[type[FormHead], str]] = {
    Endpoint.IMAGES_EDITS: (ImageEditForm, "image"),
    Endpoint.IMAGES_VARIATIONS: (ImageVariationForm, "image"),
    Endpoint.AUDIO_TRANSCRIPTIONS: (TranscriptionForm, "file"),
    Endpoint.AUDIO_TRANSLATIONS: (TranslationForm, "file"),
}


async def parse_form(
    raw: bytes, content_type: str, endpoint: Endpoint, *, model: str | None = None
) -> tuple[dict[str, Any], Head]:
    """The form as a body, and its checked head; `model`, when the path named one, replaces
    the form's."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidRequest(
            "This endpoint takes a multipart/form-data body (it uploads a file); "
            f"got content-type '{content_type[:80]}'."
        )
    body = await _fields(raw, content_type)
    if model is not None:
        body["model"] = model
    head_type, file_field = _FORMS[endpoint]
    scalars = {key: value for key, value in body.items() if isinstance(value, str)}
    for key, value in body.items():
        if key in head_type.model_fields and not isinstance(value, str):
            raise InvalidRequest(f"Invalid value for '{key}': send it once, as text.", param=key)
    try:
        head = head_type.model_validate(scalars)
    except ValidationError as exc:
        raise invalid(exc, scalars) from exc
    if not any(key in body for key in (file_field, file_field + "[]")):
        raise InvalidRequest(
            f"Missing required parameter: '{file_field}' (a file in the form).", param=file_field
        )
    return body, head


async def _fields(raw: bytes, content_type: str) -> dict[str, Any]:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield raw

    parser = MultiPartParser(
        Headers({"content-type": content_type}),
        stream(),
        max_files=MAX_FILES,
        max_fields=MAX_FIELDS,
        max_part_size=MAX_FIELD_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidRequest(f"The multipart form cannot be read: {exc.message}") from exc
    body: dict[str, Any] = {}
    try:
        for name, item in form.multi_items():
            value = await _value(item)
            if name not in body:
                body[name] = value
            elif isinstance(body[name], list):
                body[name].append(value)
            else:
                body[name] = [body[name], value]
    finally:
        await form.close()
    return body


async def _value(item: UploadFile | str) -> str | dict[str, str]:
    if isinstance(item, str):
        return item
    data = await item.read()
    return FormFile(
        filename=item.filename or "file",
        content_type=item.content_type or "application/octet-stream",
        data=data,
    ).as_value()
