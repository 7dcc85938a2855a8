"""Anthropic's Messages API (direct and on Azure AI Foundry) through the official SDK.

The adapter in `providers/anthropic/` translates wire JSON; here the SDK sends the body the
adapter built and hands back what came: SDK stream events are re-framed as SSE bytes, error
responses as their status and body, so the same pure translation covers every path.

Every SDK client shares one connection pool. Clients for a deployment's own API key are kept;
those for a bearer token or a per-request tenant's key are made per call (about 30 us), so no
such credential outlives its request here.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import anthropic
import orjson
from anthropic.resources.messages import AsyncMessages

from tollway_common.anthropic_sse import frame
from tollway_common.control import RESOURCE_NAME_PATTERN, Deployment
from tollway_common.errors import (
    InvalidRequest,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from tollway_router.credentials.resolve import Credential
from tollway_router.providers.adapter import HttpCall
from tollway_router.settings import FOUNDRY_BASE_URL

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
# The router's own connect timeout is not passed down; the SDK path uses this when the
# deployment sets none.
_CONNECT_TIMEOUT_S = 10.0


class AnthropicResponse:
    """An `UpstreamResponse` over the SDK: a stream of events or a raw body."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        events: AsyncIterator[Any] | None = None,
        deployment: Deployment | None = None,
    ) -> None:
        self._status = status
        self._body = body
        self._headers = headers or {}
        self._events = events
        self._deployment = deployment

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    async def read(self) -> bytes:
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._events is None:
            return
        name = self._deployment.name if self._deployment else "anthropic"
        try:
            async for event in self._events:
                yield frame(event.type, event.to_json(indent=None).encode())
        except anthropic.APIStatusError as exc:
            # The SDK raises on a mid-stream `error` event; hand it to the adapter as one.
            body = exc.body if isinstance(exc.body, dict) else {"error": {"message": str(exc)}}
            yield frame("error", json.dumps(body).encode())
        except anthropic.APITimeoutError as exc:
            raise UpstreamTimeout(f"Deployment '{name}' stalled mid-stream.") from exc
        except anthropic.APIConnectionError as exc:
            raise UpstreamUnavailable(f"Deployment '{name}' broke off its stream.") from exc


class _FixedToken:
    """An `AsyncAccessTokenProvider` for one access token the router already holds."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def __call__(self, *, force_refresh: bool = False) -> anthropic.AccessToken:
        return anthropic.AccessToken(self._token, expires_at=0)


def foundry_base_url(template: str, resource: str) -> str:
    """The Foundry endpoint of `resource`. The name must be one DNS label, so it can only ever
    fill the placeholder's own part of the host."""
    if not RESOURCE_NAME_PATTERN.match(resource):
        raise InvalidRequest(
            f"'{resource[:64]}' is not a Foundry resource name (one DNS label).", param="model"
        )
    return template.replace("{resource}", resource)


def _keyword_arguments(method: Any) -> frozenset[str]:
    return frozenset(
        name
        for name, parameter in inspect.signature(method).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        and name not in {"extra_headers", "extra_query", "extra_body", "timeout"}
    )


# The body fields `messages.create` (and `messages.count_tokens`) names as keyword arguments;
# every other field of a body travels in `extra_body`, the SDK's documented way to send what
# its signature lacks, so a field the installed SDK does not know is never a TypeError.
_SDK_ARGUMENTS = _keyword_arguments(AsyncMessages.create)
_COUNT_ARGUMENTS = _keyword_arguments(AsyncMessages.count_tokens)
# The call path that asks for a token count rather than a message.
_COUNT_TOKENS_SUFFIX = "/count_tokens"


def sdk_arguments(
    body: Mapping[str, Any], arguments: frozenset[str] = _SDK_ARGUMENTS
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`body` split into the SDK method's keyword `arguments` and the rest, for `extra_body`."""
    named = {key: value for key, value in body.items() if key in arguments}
    extra = {key: value for key, value in body.items() if key not in arguments}
    return named, extra


# A jar whose policy accepts no cookie from any domain.
_NO_COOKIES = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class AnthropicUpstream:
    def __init__(self, foundry_base_url: str = FOUNDRY_BASE_URL) -> None:
        self._foundry_base_url = foundry_base_url
        # Shared by every tenant's client: it must keep no cookie one response sets.
        self._http = anthropic.DefaultAsyncHttpxClient(cookies=_NO_COOKIES)
        self._clients: dict[tuple[str, str], anthropic.AsyncAnthropic] = {}

    def _base_url(self, deployment: Deployment, credential: Credential | None) -> str:
        resource = (credential.foundry_resource if credential else None) or (
            deployment.foundry_resource
        )
        if resource is not None:
            return foundry_base_url(self._foundry_base_url, resource)
        return deployment.api_base or ANTHROPIC_BASE_URL

    def _client(
        self, deployment: Deployment, credential: Credential | None
    ) -> anthropic.AsyncAnthropic:
        base = self._base_url(deployment, credential)
        foundry = deployment.is_foundry or (
            credential is not None and bool(credential.foundry_resource)
        )
        if credential is not None and (credential.kind == "bearer" or credential.foundry_resource):
            return self._new_client(base, foundry, credential)
        key = credential.value if credential is not None else ""
        client = self._clients.get((base, key))
        if client is None:
            client = self._clients[(base, key)] = self._new_client(base, foundry, credential)
        return client

    def _new_client(
        self, base: str, foundry: bool, credential: Credential | None
    ) -> anthropic.AsyncAnthropic:
        # No SDK retries: the router decides about retries and fallbacks.
        options: dict[str, Any] = {"base_url": base, "http_client": self._http, "max_retries": 0}
        if credential is not None and credential.kind == "bearer":
            token = credential.value
            if foundry:
                return anthropic.AsyncAnthropicFoundry(
                    azure_ad_token_provider=lambda: token, **options
                )
            # A Claude account's OAuth token: the SDK's credentials path sends it as
            # `Authorization: Bearer` with the `oauth-2025-04-20` beta (as Claude Code does)
            # and no x-api-key. The router keeps the token fresh; expiry 0 tells the SDK to
            # ask for it on every call rather than cache it.
            return anthropic.AsyncAnthropic(credentials=_FixedToken(token), **options)
        key = credential.value if credential is not None else ""
        if foundry:
            return anthropic.AsyncAnthropicFoundry(api_key=key, **options)
        return anthropic.AsyncAnthropic(api_key=key, **options)

    async def close(self) -> None:
        # The clients share `_http`: closing it closes them all.
        await self._http.aclose()

    async def send(
        self, deployment: Deployment, call: HttpCall, credential: Credential | None
    ) -> AnthropicResponse:
        client = self._client(deployment, credential)
        counting = call.path.endswith(_COUNT_TOKENS_SUFFIX)
        arguments = _COUNT_ARGUMENTS if counting else _SDK_ARGUMENTS
        params, extra = sdk_arguments(orjson.loads(call.body), arguments)
        headers = {**deployment.headers, **call.headers}
        timeout = _timeout(deployment, call.stream)
        try:
            async with asyncio.timeout(deployment.first_byte_timeout_s or deployment.timeout_s):
                if counting:
                    counted = await client.messages.with_raw_response.count_tokens(
                        **params, extra_headers=headers, extra_body=extra or None, timeout=timeout
                    )
                    return AnthropicResponse(200, body=counted.http_response.content)
                if call.stream:
                    events = await client.messages.create(
                        **params, extra_headers=headers, extra_body=extra or None, timeout=timeout
                    )
                    return AnthropicResponse(200, events=events, deployment=deployment)
                raw = await client.messages.with_raw_response.create(
                    **params, extra_headers=headers, extra_body=extra or None, timeout=timeout
                )
            return AnthropicResponse(200, body=raw.http_response.content)
        except anthropic.APIStatusError as exc:
            return AnthropicResponse(
                exc.status_code, body=exc.response.content, headers=dict(exc.response.headers)
            )
        except (anthropic.APITimeoutError, TimeoutError) as exc:
            raise UpstreamTimeout(
                f"Deployment '{deployment.name}' did not answer in time."
            ) from exc
        except anthropic.APIConnectionError as exc:
            if _never_connected(exc):
                raise UpstreamUnreachable(
                    f"Could not connect to deployment '{deployment.name}'."
                ) from exc
            raise UpstreamUnavailable(f"Could not reach deployment '{deployment.name}'.") from exc


def _never_connected(exc: BaseException) -> bool:
    # The SDK wraps its HTTP library's ConnectError (httpx or httpx2, by SDK version; both
    # and httpcore use that name), so the name is what stays stable.
    cause = exc.__cause__
    while cause is not None:
        if type(cause).__name__ == "ConnectError":
            return True
        cause = cause.__cause__
    return False


def _timeout(deployment: Deployment, stream: bool) -> anthropic.Timeout:
    """Connect, then each read: a stream's longest silence, or the time to the answer."""
    read = (deployment.idle_timeout_s if stream else None) or deployment.timeout_s
    return anthropic.Timeout(
        deployment.timeout_s, connect=deployment.connect_timeout_s or _CONNECT_TIMEOUT_S, read=read
    )
