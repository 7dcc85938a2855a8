"""Anthropic's Messages API (direct and on Azure AI Foundry) through the official SDK.

The adapter in `providers/anthropic/` translates wire JSON; here the SDK sends the body the
adapter built and hands back what came: SDK stream events are re-framed as SSE bytes, error
responses as their status and body, so the same pure translation covers every path.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anthropic
import orjson

from tollway_common.control import Deployment
from tollway_common.errors import UpstreamTimeout, UpstreamUnavailable
from tollway_router.adapter import HttpCall

_FOUNDRY_HOST = ".services.ai.azure.com"


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
                yield _sse(event.type, event.to_json(indent=None).encode())
        except anthropic.APIStatusError as exc:
            # The SDK raises on a mid-stream `error` event; hand it to the adapter as one.
            body = exc.body if isinstance(exc.body, dict) else {"error": {"message": str(exc)}}
            yield _sse("error", json.dumps(body).encode())
        except anthropic.APITimeoutError as exc:
            raise UpstreamTimeout(f"Deployment '{name}' stalled mid-stream.") from exc
        except anthropic.APIConnectionError as exc:
            raise UpstreamUnavailable(f"Deployment '{name}' broke off its stream.") from exc


def _sse(event: str, data: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


class AnthropicUpstream:
    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], anthropic.AsyncAnthropic] = {}

    def _client(self, deployment: Deployment, secret: str) -> anthropic.AsyncAnthropic:
        base = deployment.api_base or "https://api.anthropic.com"
        key = (base, secret)
        client = self._clients.get(key)
        if client is None:
            # No SDK retries: the router decides about retries and fallbacks.
            if _FOUNDRY_HOST in base:
                client = anthropic.AsyncAnthropicFoundry(
                    api_key=secret, base_url=base, max_retries=0
                )
            else:
                client = anthropic.AsyncAnthropic(api_key=secret, base_url=base, max_retries=0)
            self._clients[key] = client
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()

    async def send(self, deployment: Deployment, call: HttpCall, secret: str) -> AnthropicResponse:
        client = self._client(deployment, secret)
        params: dict[str, Any] = orjson.loads(call.body)
        headers = {**deployment.headers, **call.headers}
        try:
            if call.stream:
                events = await client.messages.create(
                    **params, extra_headers=headers, timeout=deployment.timeout_s
                )
                return AnthropicResponse(200, events=events, deployment=deployment)
            raw = await client.messages.with_raw_response.create(
                **params, extra_headers=headers, timeout=deployment.timeout_s
            )
            return AnthropicResponse(200, body=raw.http_response.content)
        except anthropic.APIStatusError as exc:
            return AnthropicResponse(
                exc.status_code, body=exc.response.content, headers=dict(exc.response.headers)
            )
        except anthropic.APITimeoutError as exc:
            raise UpstreamTimeout(
                f"Deployment '{deployment.name}' did not answer in time."
            ) from exc
        except anthropic.APIConnectionError as exc:
            raise UpstreamUnavailable(f"Could not reach deployment '{deployment.name}'.") from exc
