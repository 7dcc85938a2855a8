"""One router serves every tenant over one pooled upstream client: a cookie one upstream
response sets (Cloudflare's `__cf_bm` in front of OpenAI, an Azure affinity cookie) must never
ride along on anyone's next request."""

from __future__ import annotations

import time

import orjson
from tests.support.fake_anthropic_server import FakeAnthropicServer
from tests.support.fake_openai_server import FakeOpenAIServer, Fault

from tollway_common.control import Deployment
from tollway_router.credentials.resolve import Credential
from tollway_router.providers.adapter import HttpCall
from tollway_router.upstream import demo_server
from tollway_router.upstream.anthropic_sdk import AnthropicUpstream
from tollway_router.upstream.client import Upstream

_COOKIE = "__cf_bm=tenant-a-session; Path=/; HttpOnly"


def _by_name(base_url: str) -> str:
    # A host name, not an IP: cookie jars keep no cookies for IP hosts.
    return base_url.replace("127.0.0.1", "localhost")


async def test_a_cookie_set_by_an_upstream_is_not_sent_on_later_requests() -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    answer = demo_server.chat_completion(body, int(time.time())).body
    call = HttpCall(method="POST", path="/chat/completions", body=orjson.dumps(body), stream=False)
    with FakeOpenAIServer() as server:
        deployment = Deployment(
            name="openai",
            provider="openai",
            model="gpt-4o-mini",
            api_base=_by_name(server.base_url),
        )
        server.fault = Fault(
            kind="status",
            status=200,
            headers={"set-cookie": _COOKIE},
            body=answer,
            times=1,
        )
        upstream = Upstream(connect_timeout_s=5, max_connections=10)
        try:
            for _ in range(2):
                async with upstream.open(deployment, call, ("authorization", "Bearer sk-x")) as r:
                    assert r.status == 200
                    await r.read()
        finally:
            await upstream.close()

    assert len(server.requests) == 2
    assert "set-cookie" not in server.requests[1].headers
    assert "cookie" not in server.requests[1].headers, server.requests[1].headers


async def test_a_cookie_set_by_anthropic_is_not_sent_for_another_tenant() -> None:
    body = {
        "model": "claude-opus-4-5",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
    }
    call = HttpCall(method="POST", path="/v1/messages", body=orjson.dumps(body), stream=False)
    with FakeAnthropicServer() as server:
        server.reply_headers = {"set-cookie": _COOKIE}
        deployment = Deployment(
            name="claude",
            provider="anthropic",
            model="claude-opus-4-5",
            api_base=_by_name(server.base_url),
        )
        upstream = AnthropicUpstream()
        try:
            for key in ("sk-ant-tenant-a", "sk-ant-tenant-b"):
                response = await upstream.send(deployment, call, Credential("api_key", key))
                assert response.status == 200
        finally:
            await upstream.close()

    assert len(server.requests) == 2
    assert "cookie" not in server.requests[1][0], server.requests[1][0]
