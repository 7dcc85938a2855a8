"""The router's only network code toward providers: pooled HTTP clients and SSE reading."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tollway_common.control import Deployment
from tollway_common.errors import UpstreamTimeout, UpstreamUnavailable
from tollway_router import fake_upstream
from tollway_router.adapter import HttpCall

FAKE_API_BASE = "http://fake.tollway.invalid/v1"


class Upstream:
    def __init__(self, connect_timeout_s: float, max_connections: int) -> None:
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=60,
        )
        self._timeout = httpx.Timeout(600.0, connect=connect_timeout_s)
        self._client = httpx.AsyncClient(limits=limits, timeout=self._timeout)
        self._fake = httpx.AsyncClient(
            transport=httpx.MockTransport(fake_upstream.handle), timeout=self._timeout
        )

    async def close(self) -> None:
        await self._client.aclose()
        await self._fake.aclose()

    @asynccontextmanager
    async def open(
        self, deployment: Deployment, call: HttpCall, auth: tuple[str, str] | None
    ) -> AsyncIterator[httpx.Response]:
        """Send `call` and yield the response with its body unread (streamed)."""
        client = self._fake if deployment.provider == "fake" else self._client
        base = FAKE_API_BASE if deployment.provider == "fake" else deployment.api_base
        if not base:
            raise UpstreamUnavailable(f"Deployment '{deployment.name}' has no api_base configured.")
        headers = {"content-type": "application/json", **deployment.headers, **call.headers}
        if auth is not None:
            headers[auth[0]] = auth[1]
        request = client.build_request(
            call.method,
            base.rstrip("/") + call.path,
            content=call.body,
            headers=headers,
            params=dict(call.query) or None,
            timeout=self._timeout.__class__(deployment.timeout_s, connect=self._timeout.connect),
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(
                f"Deployment '{deployment.name}' did not answer in time ({type(exc).__name__})."
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"Could not reach deployment '{deployment.name}': {type(exc).__name__}."
            ) from exc
        try:
            yield response
        finally:
            await response.aclose()


async def read_body(response: httpx.Response, deployment: Deployment) -> bytes:
    try:
        return await response.aread()
    except httpx.TimeoutException as exc:
        raise UpstreamTimeout(f"Deployment '{deployment.name}' stopped sending its reply.") from exc
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(
            f"Deployment '{deployment.name}' broke off its reply: {type(exc).__name__}."
        ) from exc


async def iter_bytes(response: httpx.Response, deployment: Deployment) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except httpx.TimeoutException as exc:
        raise UpstreamTimeout(f"Deployment '{deployment.name}' stalled mid-stream.") from exc
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(
            f"Deployment '{deployment.name}' broke off its stream: {type(exc).__name__}."
        ) from exc
