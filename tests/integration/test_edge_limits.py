"""What a connection may cost the edge: slow and huge request heads, slow bodies, and bodies
that are valid JSON but cannot be forwarded, each refused with a 4xx, never a 5xx or a hang."""

from __future__ import annotations

import json
import re
import select
import socket
from collections.abc import Iterator

import httpx
import pytest
from tests.integration.test_edge_errors import CHAT, _check
from tests.support.stack import Stack

# Generous bound on how long a trickle may go on; the edge must cut it off long before.
_TRICKLE_STEPS = 150
_STEP_S = 0.2
_LIMITS = {
    "TOLLWAY_EDGE_HTTP__HEADER_TIMEOUT_S": "1",
    "TOLLWAY_EDGE_HTTP__BODY_TIMEOUT_S": "1",
    "TOLLWAY_EDGE_HTTP__MAX_HEADER_BYTES": "16384",
}


@pytest.fixture(scope="module")
def limited_edge(module_stack: Stack) -> tuple[str, int]:
    """A second edge with tight limits on the module's stack; the stack's own edge stays the
    one `shared_stack` tests talk to. The limit tests never reach an upstream."""
    plain = module_stack.edge_port, module_stack.edge_metrics_port
    module_stack.start_edge("edge-limited", **_LIMITS)
    limited = module_stack.edge_port
    module_stack.edge_port, module_stack.edge_metrics_port = plain
    return "127.0.0.1", limited


def _closed_while_trickling(sock: socket.socket, pieces: Iterator[bytes]) -> bool:
    """Send one piece per step until the edge closes the connection; False if it never does."""
    for _ in range(_TRICKLE_STEPS):
        readable, _, _ = select.select([sock], [], [], _STEP_S)
        if readable:
            return sock.recv(65536) == b"" or _drained(sock)
        try:
            sock.sendall(next(pieces))
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def _drained(sock: socket.socket) -> bool:
    while True:
        readable, _, _ = select.select([sock], [], [], 5)
        if not readable:
            return False
        if sock.recv(65536) == b"":
            return True


def _response(sock: socket.socket) -> bytes:
    """One whole HTTP response: the head and as much body as its content-length says (a head
    and its body may arrive in separate reads)."""
    data = b""
    while True:
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        if length is not None and len(body) >= int(length.group(1)):
            return data
        readable, _, _ = select.select([sock], [], [], 5)
        chunk = sock.recv(65536) if readable else b""
        if not chunk:
            return data
        data += chunk


def _forever(piece: bytes) -> Iterator[bytes]:
    while True:
        yield piece


def test_an_idle_connection_is_closed(limited_edge: tuple[str, int]) -> None:
    with socket.create_connection(limited_edge) as sock:
        readable, _, _ = select.select([sock], [], [], _TRICKLE_STEPS * _STEP_S)
        assert readable
        assert sock.recv(1) == b""


def test_a_trickling_request_head_is_closed(limited_edge: tuple[str, int]) -> None:
    with socket.create_connection(limited_edge) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ")
        assert _closed_while_trickling(sock, _forever(b"a"))


def test_a_trickling_body_gets_408(limited_edge: tuple[str, int], api_key: str) -> None:
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        f"authorization: Bearer {api_key}\r\ncontent-type: application/json\r\n"
        "content-length: 100000\r\n\r\n"
    )
    with socket.create_connection(limited_edge) as sock:
        sock.sendall(head.encode())
        for _ in range(_TRICKLE_STEPS):
            readable, _, _ = select.select([sock], [], [], _STEP_S)
            if readable:
                break
            sock.sendall(b" ")
        answer = _response(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b'"request_timeout"' in answer


def test_an_oversized_request_head_gets_431(limited_edge: tuple[str, int]) -> None:
    # Just over the cap and never finished: the edge reads all of it, answers and closes.
    head = b"GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: " + b"a" * 20_000
    with socket.create_connection(limited_edge) as sock:
        sock.sendall(head)
        answer = _response(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer


def test_a_normal_request_still_passes_the_limits(
    limited_edge: tuple[str, int], api_key: str
) -> None:
    host, port = limited_edge
    response = httpx.post(
        f"http://{host}:{port}/v1/chat/completions",
        json=CHAT,
        headers={"authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("depth", [65, 260, 1000])
async def test_deeply_nested_json_is_400(shared_stack: Stack, api_key: str, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    body = json.dumps(CHAT)[:-1] + f', "metadata_x": {nested}}}'
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions",
            content=body,
            headers={"authorization": f"Bearer {api_key}", "content-type": "application/json"},
        )
    _check(response, 400, "invalid_value")


async def test_json_at_the_depth_limit_passes(shared_stack: Stack, api_key: str) -> None:
    depth = 63  # the body object itself is the 64th level
    body = {**CHAT, "metadata_x": json.loads("[" * depth + "]" * depth)}
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions", json=body, headers={"authorization": f"Bearer {api_key}"}
        )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("field", ["max_completion_tokens", "max_tokens", "n"])
async def test_a_non_numeric_token_field_is_400(
    shared_stack: Stack, api_key: str, field: str
) -> None:
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions",
            json={**CHAT, field: "abc"},
            headers={"authorization": f"Bearer {api_key}"},
        )
    _check(response, 400, "invalid_value", param=field)


async def test_a_body_that_outgrows_the_bus_when_re_encoded_is_413(
    shared_stack: Stack, api_key: str
) -> None:
    # 5 bytes each as sent, 19 once re-encoded (1000000000000000.0): 2.5 MB, under the body
    # limit and the bus's 8 MB payload as sent, becomes 9.5 MB.
    numbers = ",".join(["1E15"] * 500_000)
    body = json.dumps(CHAT)[:-1] + f', "metadata_x": [{numbers}]}}'
    assert len(body) < 3 * 1024 * 1024
    async with httpx.AsyncClient(base_url=shared_stack.base_url) as client:
        response = await client.post(
            "/chat/completions",
            content=body,
            headers={"authorization": f"Bearer {api_key}", "content-type": "application/json"},
        )
    _check(response, 413, "payload_too_large")
