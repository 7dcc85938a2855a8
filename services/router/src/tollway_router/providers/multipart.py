"""Write a form carried in `InferRequest.body` (`tollway_common.forms`) as a
multipart/form-data body (RFC 7578) for the upstream; pure, so the same form always gives the
same bytes.

The boundary is drawn from a hash of the parts rather than from a random source: it cannot
occur in them by chance, and tests can compare whole bodies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from tollway_common.forms import FormFile, read_file

_Part = tuple[str, FormFile | str]


def encode(fields: Mapping[str, Any]) -> tuple[bytes, str]:
    """The body and its content type. A list value is sent as one part per item (a repeated
    field); a value that is neither text nor a file is sent as its JSON text."""
    parts = [part for name, value in fields.items() for part in _parts(name, value)]
    encoded = [_encode_part(name, value) for name, value in parts]
    boundary = _boundary(encoded)
    delimiter = b"--" + boundary.encode("ascii")
    body = b"".join(delimiter + b"\r\n" + part + b"\r\n" for part in encoded)
    return body + delimiter + b"--\r\n", f"multipart/form-data; boundary={boundary}"


def _parts(name: str, value: Any) -> list[_Part]:
    items = value if isinstance(value, list) else [value]
    parts: list[_Part] = []
    for item in items:
        file = read_file(item)
        if file is not None:
            parts.append((name, file))
        elif isinstance(item, str):
            parts.append((name, item))
        else:
            parts.append((name, orjson.dumps(item).decode()))
    return parts


def _encode_part(name: str, value: FormFile | str) -> bytes:
    disposition = f'form-data; name="{_quoted(name)}"'
    if isinstance(value, str):
        return f"Content-Disposition: {disposition}\r\n\r\n".encode() + value.encode()
    head = (
        f'Content-Disposition: {disposition}; filename="{_quoted(value.filename)}"\r\n'
        f"Content-Type: {_header_safe(value.content_type)}\r\n\r\n"
    )
    return head.encode() + value.data


def _quoted(text: str) -> str:
    # The escaping browsers apply (HTML's form encoding): a quote or line break cannot end
    # the parameter or the header.
    return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _header_safe(text: str) -> str:
    return text.replace("\r", "").replace("\n", "")


def _boundary(parts: list[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    while True:
        boundary = "tollway" + digest.hexdigest()[:32]
        marker = boundary.encode("ascii")
        if not any(marker in part for part in parts):
            return boundary
        digest.update(marker)
