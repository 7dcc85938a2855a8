"""A fake Anthropic Messages API on loopback that replays recorded captures: the real event
sequence for streams, a recorded body otherwise, and recorded error bodies on cue. Every
request it receives is checked against Anthropic's published schema.

It takes a Claude account's OAuth access token (issued by the fake token service's
refresh-token grant) on the direct API, with the OAuth beta header, as the real API does.
It also answers as Azure AI Foundry resources: `/<resource>/anthropic/v1/messages` (what the
router's Foundry URL points at in tests), with the key each resource takes in `keys`, or an
Entra ID token the fake token service issued for Foundry's scope.

Like the real API it counts tokens (`/v1/messages/count_tokens`) and checks the thinking blocks
a client sends back: each must carry a signature this server issued for that very thinking
text, or the request is refused as Anthropic refuses a tampered one."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import fixtures
from tests.support.anthropic_schema import REQUEST_SCHEMA, validate_anthropic
from tests.support.fake_token_server import FakeTokenServer
from tests.support.threaded_server import ServedInThread, ThreadedServer

FOUNDRY_SCOPE = "https://ai.azure.com/.default"
# The beta that lets the direct API take a Claude account's OAuth token as a bearer token.
OAUTH_BETA = "oauth-2025-04-20"
# What the fake answers every count_tokens request with.
COUNTED_TOKENS = 2095


def issued_thinking() -> set[tuple[str, str]]:
    """(thinking text, signature) of every thinking block the recorded replies carry."""
    issued: set[tuple[str, str]] = set()
    for block in fixtures.load_json("anthropic", "thinking", "response.json")["content"]:
        if block["type"] == "thinking":
            issued.add((block["thinking"], block["signature"]))
    thinking: dict[int, str] = {}
    for line in fixtures.load_bytes("anthropic", "thinking_stream", "stream.sse").splitlines():
        if not line.startswith(b"data: "):
            continue
        event = orjson.loads(line[6:])
        delta = event.get("delta") or {}
        if delta.get("type") == "thinking_delta":
            thinking[event["index"]] = thinking.get(event["index"], "") + delta["thinking"]
        elif delta.get("type") == "signature_delta":
            issued.add((thinking.get(event["index"], ""), delta["signature"]))
    return issued


def _thinking_sent_back(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (str(block.get("thinking")), str(block.get("signature")))
        for message in body.get("messages") or []
        if message.get("role") == "assistant" and isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "thinking"
    ]


class FakeAnthropicServer(ServedInThread):
    invalid_requests = "invalid requests sent to Anthropic"

    def __init__(
        self, keys: dict[str, str] | None = None, tokens: FakeTokenServer | None = None
    ) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        # The Foundry resource each request was addressed to ("" for the direct API).
        self.resources: list[str] = []
        self.schema_errors: list[str] = []
        # (status, recorded error case) to answer with, instead of a normal reply.
        self.fail_with: tuple[int, str] | None = None
        self.stream_case = "text_stream"
        self.response_case = "chat"
        self.issued = issued_thinking()
        # Extra headers on normal replies (a Set-Cookie, say).
        self.reply_headers: dict[str, str] = {}
        # The key each resource takes; with none, any credential is taken.
        self.keys = keys or {}
        self.tokens = tokens
        app = Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/{resource}/anthropic/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
                Route(
                    "/{resource}/anthropic/v1/messages/count_tokens",
                    self._count_tokens,
                    methods=["POST"],
                ),
            ]
        )
        self._server = ThreadedServer(app, "fake Anthropic server")
        self.port = self._server.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def foundry_base_url(self) -> str:
        """The router's `foundry_base_url` that points every resource here."""
        return f"http://127.0.0.1:{self.port}/{{resource}}/anthropic/"

    def _authorised(self, request: Request, resource: str) -> bool:
        if not self.keys and self.tokens is None:
            return True
        key = self.keys.get(resource)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        presented = {request.headers.get("x-api-key"), request.headers.get("api-key")}
        if not resource and scheme == "Bearer":
            # The direct API's SDK may send the key as a bearer token.
            presented.add(token)
        if key is not None and key in presented:
            return True
        issued = self.tokens.issued_for(token) if self.tokens and scheme == "Bearer" else None
        if issued is not None and not resource:
            # A Claude account's OAuth token: the API takes it only with the OAuth beta, and
            # as the one credential (no x-api-key beside it).
            betas = {beta.strip() for beta in request.headers.get("anthropic-beta", "").split(",")}
            return (
                issued.grant == "refresh_token"
                and OAUTH_BETA in betas
                and "x-api-key" not in request.headers
            )
        return issued is not None and issued.scope == FOUNDRY_SCOPE and bool(resource)

    async def _received(
        self, request: Request, schema: str
    ) -> tuple[dict[str, Any], Response | None]:
        """The request's body, and the refusal it gets (schema, credential) if any."""
        body = orjson.loads(await request.body())
        resource = str(request.path_params.get("resource", ""))
        self.requests.append((dict(request.headers), body))
        self.resources.append(resource)
        try:
            validate_anthropic(schema, body)
        except AssertionError as exc:
            self.schema_errors.append(str(exc))
            return body, Response(
                b'{"type":"error","error":{"type":"invalid_request_error","message":"schema"}}',
                status_code=400,
            )
        if not self._authorised(request, resource):
            return body, Response(
                fixtures.load_bytes("anthropic", "error_401", "response.json"),
                status_code=401,
                media_type="application/json",
            )
        forged = [sent for sent in _thinking_sent_back(body) if sent not in self.issued]
        if forged:
            message = "messages: thinking block has an invalid signature"
            return body, Response(
                orjson.dumps(
                    {
                        "type": "error",
                        "error": {"type": "invalid_request_error", "message": message},
                    }
                ),
                status_code=400,
                media_type="application/json",
            )
        return body, None

    async def _count_tokens(self, request: Request) -> Response:
        _, refused = await self._received(request, "CountMessageTokensParams")
        if refused is not None:
            return refused
        return Response(
            orjson.dumps({"input_tokens": COUNTED_TOKENS}), media_type="application/json"
        )

    async def _messages(self, request: Request) -> Response:
        body, refused = await self._received(request, REQUEST_SCHEMA)
        if refused is not None:
            return refused
        if self.fail_with is not None:
            status, case = self.fail_with
            return Response(
                fixtures.load_bytes("anthropic", case, "response.json"),
                status_code=status,
                media_type="application/json",
                headers={"retry-after": "3"} if status == 429 else {},
            )
        if body.get("stream"):
            return Response(
                fixtures.load_bytes("anthropic", self.stream_case, "stream.sse"),
                media_type="text/event-stream",
            )
        return Response(
            fixtures.load_bytes("anthropic", self.response_case, "response.json"),
            media_type="application/json",
            headers=self.reply_headers,
        )
