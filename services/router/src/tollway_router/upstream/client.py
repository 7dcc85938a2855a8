"""The router's only network code toward providers: one transport per `Transport` kind (a
pooled aiohttp client, the anthropic SDK, the in-process demo server) behind one small response
interface. Which transport a deployment takes is a fact of its provider
(`tollway_common.providers.FACTS`); this module names no provider.

aiohttp rather than httpx: httpcore's pool scans every connection on each request, which cost
the router about 2 ms of CPU per request under load (docs/bench.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias

import aiohttp

from tollway_common.control import Deployment
from tollway_common.errors import UpstreamTimeout, UpstreamUnavailable, UpstreamUnreachable
from tollway_common.providers import FACTS, Transport
from tollway_router.credentials.resolve import Credential
from tollway_router.providers.adapter import HttpCall
from tollway_router.settings import FOUNDRY_BASE_URL
from tollway_router.upstream import demo_server
from tollway_router.upstream.connector import upstream_connector

if TYPE_CHECKING:
    from tollway_router.upstream.anthropic_sdk import AnthropicUpstream


class UpstreamResponse(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...


class _HttpResponse:
    def __init__(
        self,
        response: aiohttp.ClientResponse,
        deployment: Deployment,
        first_event_s: float | None = None,
    ) -> None:
        self._response = response
        self._deployment = deployment
        self._first_event_s = first_event_s

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout(
                f"Deployment '{self._deployment.name}' stopped sending its reply."
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(
                f"Deployment '{self._deployment.name}' broke off its reply: {type(exc).__name__}."
            ) from exc

    async def chunks(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            if self._first_event_s is not None:
                # A stream that opens and then says nothing is as stuck as one that never opens.
                async with asyncio.timeout(self._first_event_s):
                    first = await content.readany()
                if not first:
                    return
                yield first
            async for chunk in content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout(
                f"Deployment '{self._deployment.name}' stalled mid-stream."
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(
                f"Deployment '{self._deployment.name}' broke off its stream: {type(exc).__name__}."
            ) from exc


class _FakeResponse:
    def __init__(self, reply: demo_server.FakeReply) -> None:
        self._reply = reply

    @property
    def status(self) -> int:
        return self._reply.status

    @property
    def headers(self) -> Mapping[str, str]:
        return {}

    async def read(self) -> bytes:
        return self._reply.body

    async def chunks(self) -> AsyncIterator[bytes]:
        for event in self._reply.events:
            yield demo_server.sse_bytes((event,))
            await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A deployment's URL base, fixed headers and timeouts, as every HTTP call to it uses them."""

    base_url: str
    headers: Mapping[str, str]
    timeout: aiohttp.ClientTimeout
    stream_timeout: aiohttp.ClientTimeout
    first_byte_s: float

    @classmethod
    def of(cls, deployment: Deployment, connect_timeout_s: float) -> _Prepared:
        assert deployment.api_base
        sock_connect = deployment.connect_timeout_s or connect_timeout_s
        return cls(
            base_url=deployment.api_base.rstrip("/"),
            headers={"content-type": "application/json", **deployment.headers},
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=sock_connect, sock_read=deployment.timeout_s
            ),
            stream_timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=sock_connect,
                sock_read=deployment.idle_timeout_s or deployment.timeout_s,
            ),
            first_byte_s=deployment.first_byte_timeout_s or deployment.timeout_s,
        )


# Deployments a router calls are the catalog's, plus a copy per request for per-tenant calls
# and secret-reference headers: past the bound the cache starts over (one rebuild per
# deployment), so those copies never pile up.
_PREPARED_MAX = 256

_Open: TypeAlias = Callable[
    [Deployment, HttpCall, tuple[str, str] | None, Credential | None],
    AbstractAsyncContextManager[UpstreamResponse],
]


class Upstream:
    def __init__(
        self,
        connect_timeout_s: float,
        max_connections: int,
        foundry_base_url: str = FOUNDRY_BASE_URL,
    ) -> None:
        self._connect_timeout_s = connect_timeout_s
        self._max_connections = max_connections
        self._foundry_base_url = foundry_base_url
        self._session: aiohttp.ClientSession | None = None
        self._anthropic: AnthropicUpstream | None = None
        self._prepared_by_id: dict[int, tuple[Deployment, _Prepared]] = {}
        self._transports: dict[Transport, _Open] = {
            Transport.HTTP: self._open_http,
            Transport.ANTHROPIC_SDK: self._open_sdk,
            Transport.IN_PROCESS: self._open_in_process,
        }

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = upstream_connector(self._max_connections)
            # One session serves every tenant: a cookie one upstream response sets must not
            # travel with anyone's next request, so the session keeps none.
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                skip_auto_headers=["User-Agent"],
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._anthropic is not None:
            await self._anthropic.close()

    def anthropic(self) -> AnthropicUpstream:
        # The anthropic SDK takes about two seconds to import: only routers that serve a
        # provider on that transport pay for it (`warm_up`, when the catalog has one).
        if self._anthropic is None:
            from tollway_router.upstream.anthropic_sdk import AnthropicUpstream

            self._anthropic = AnthropicUpstream(self._foundry_base_url)
        return self._anthropic

    def warm_up(self, deployments: Iterable[Deployment]) -> None:
        """Load the SDK transport now (blocking) if any of `deployments` will need it."""
        if any(FACTS[d.provider].transport is Transport.ANTHROPIC_SDK for d in deployments):
            self.anthropic()

    def open(
        self,
        deployment: Deployment,
        call: HttpCall,
        auth: tuple[str, str] | None,
        credential: Credential | None = None,
    ) -> AbstractAsyncContextManager[UpstreamResponse]:
        """Send `call` with the `auth` header and yield the response with its body unread,
        through the transport of the deployment's provider; the SDK transport places the
        `credential` itself."""
        transport = self._transports[FACTS[deployment.provider].transport]
        return transport(deployment, call, auth, credential)

    @asynccontextmanager
    async def _open_in_process(
        self,
        deployment: Deployment,
        call: HttpCall,
        auth: tuple[str, str] | None,
        credential: Credential | None,
    ) -> AsyncIterator[UpstreamResponse]:
        yield _FakeResponse(demo_server.respond_bytes(call.path, call.body))

    @asynccontextmanager
    async def _open_sdk(
        self,
        deployment: Deployment,
        call: HttpCall,
        auth: tuple[str, str] | None,
        credential: Credential | None,
    ) -> AsyncIterator[UpstreamResponse]:
        yield await self.anthropic().send(deployment, call, credential)

    def _prepared(self, deployment: Deployment) -> _Prepared:
        """What every call to `deployment` shares, made once per catalog version of it: the
        catalog replaces a changed deployment with a new object, so identity is the key (the
        entry holds the object, so its id cannot be reused while cached)."""
        entry = self._prepared_by_id.get(id(deployment))
        if entry is not None and entry[0] is deployment:
            return entry[1]
        if not deployment.api_base:
            raise UpstreamUnavailable(f"Deployment '{deployment.name}' has no api_base configured.")
        if len(self._prepared_by_id) >= _PREPARED_MAX:
            self._prepared_by_id.clear()
        prepared = _Prepared.of(deployment, self._connect_timeout_s)
        self._prepared_by_id[id(deployment)] = (deployment, prepared)
        return prepared

    @asynccontextmanager
    async def _open_http(
        self,
        deployment: Deployment,
        call: HttpCall,
        auth: tuple[str, str] | None,
        credential: Credential | None,
    ) -> AsyncIterator[UpstreamResponse]:
        prepared = self._prepared(deployment)
        headers = {**prepared.headers, **call.headers}
        if auth is not None:
            headers[auth[0]] = auth[1]
        first_byte_s = prepared.first_byte_s
        request = self._client().request(
            call.method,
            prepared.base_url + call.path,
            data=call.body,
            headers=headers,
            params=dict(call.query) or None,
            timeout=prepared.stream_timeout if call.stream else prepared.timeout,
        )
        try:
            async with asyncio.timeout(first_byte_s):
                response = await request
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout(
                f"Deployment '{deployment.name}' did not answer in time."
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamUnreachable(
                f"Could not connect to deployment '{deployment.name}': {type(exc).__name__}."
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(
                f"Could not reach deployment '{deployment.name}': {type(exc).__name__}."
            ) from exc
        async with response:
            yield _HttpResponse(response, deployment, first_byte_s if call.stream else None)
