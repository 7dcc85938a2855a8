"""The multipart writer: what it writes reads back (with Starlette's parser, the one the
edge and the fake upstream use) as the form the edge carried."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartParser

from tollway_common.forms import FormFile
from tollway_router.providers import multipart

PNG = FormFile("a.png", "image/png", b"\x89PNG\r\n--not a boundary\r\n")


async def _read_back(body: bytes, content_type: str) -> list[tuple[str, Any]]:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    form = await MultiPartParser(Headers({"content-type": content_type}), stream()).parse()
    parts: list[tuple[str, Any]] = []
    for name, item in form.multi_items():
        if isinstance(item, UploadFile):
            parts.append((name, (item.filename, item.content_type, await item.read())))
        else:
            parts.append((name, item))
    await form.close()
    return parts


async def test_fields_lists_and_files_read_back_as_they_were_carried() -> None:
    body, content_type = multipart.encode(
        {
            "model": "gpt-image-1",
            "n": 2,
            "image[]": [PNG.as_value(), PNG.as_value()],
            "timestamp_granularities[]": ["word", "segment"],
        }
    )
    assert content_type.startswith("multipart/form-data; boundary=tollway")
    assert await _read_back(body, content_type) == [
        ("model", "gpt-image-1"),
        ("n", "2"),
        ("image[]", ("a.png", "image/png", PNG.data)),
        ("image[]", ("a.png", "image/png", PNG.data)),
        ("timestamp_granularities[]", "word"),
        ("timestamp_granularities[]", "segment"),
    ]


def test_the_same_form_gives_the_same_bytes_and_the_boundary_is_in_no_part() -> None:
    fields = {"model": "whisper-1", "file": PNG.as_value()}
    body, content_type = multipart.encode(fields)
    assert multipart.encode(fields) == (body, content_type)
    boundary = content_type.partition("boundary=")[2].encode()
    # Once per part, and once more to close.
    assert body.count(b"--" + boundary) == 3


async def test_quotes_and_line_breaks_cannot_break_out_of_a_header() -> None:
    evil = FormFile('x"; name="model\r\nX-Evil: 1', "image/png\r\nX-Evil: 1", b"data")
    body, content_type = multipart.encode({"image": evil.as_value()})
    assert b"\r\nX-Evil" not in body
    [(name, (filename, file_type, data))] = await _read_back(body, content_type)
    assert (name, data) == ("image", b"data")
    assert filename == "x%22; name=%22model%0D%0AX-Evil: 1"
    assert file_type == "image/pngX-Evil: 1"
