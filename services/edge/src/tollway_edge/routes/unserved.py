"""Every /v1 path no route serves: an OpenAI endpoint this gateway does not offer answers a 404
`unsupported_endpoint` that names the capability, any other path a 404 `not_found`. Both come
only after the caller has authenticated, so a caller without a key learns nothing but 401.

This is the router's fallback, not a route: any route added for one of these endpoints takes
precedence wherever it is registered.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from tollway_common.errors import NotFound
from tollway_edge.auth import authenticate
from tollway_edge.runtime import Runtime

# OpenAI's endpoints (and the reranking one other gateways serve) by their path under /v1, and
# the capability each offers. `tests/unit/edge/test_unserved.py` checks that every path the
# locked openai SDK calls is either served or named here.
UNSERVED: dict[str, str] = {
    "agents": "agents",
    "assistants": "assistants",
    # Before "audio", which would match them too.
    "audio/voice_consents": "custom voice consents",
    "audio/voices": "custom voices",
    "audio": "this audio operation (POST /v1/audio/speech, /transcriptions and /translations "
    "are served)",
    "chat/completions": "stored chat completions",
    "chatkit": "ChatKit",
    "containers": "containers",
    "content_provenance_checks": "content provenance checks",
    "conversations": "conversations",
    "decisions": "decisions",
    "edits": "edits (retired by OpenAI; use chat completions)",
    "engines": "engines (retired by OpenAI; use GET /v1/models)",
    "evals": "evals",
    "fine-tunes": "fine-tuning",
    "fine_tuning": "fine-tuning",
    "images": "this image operation (POST /v1/images/generations, /edits and /variations are "
    "served)",
    "live": "live sessions",
    "organization": "the organization administration API",
    "projects": "projects",
    "realtime": "the Realtime API",
    "rerank": "reranking by this method (POST /v1/rerank is served)",
    "responses/compact": "compacting responses",
    "responses/input_tokens": "counting a response's input tokens",
    "safety": "safety checks",
    "skills": "skills",
    "threads": "threads",
    "uploads": "uploads",
    "vaults": "vaults",
    "vector_stores": "vector stores",
    "videos": "video generation",
    "webhook_endpoints": "webhook endpoints",
    "webhook_event_types": "webhook event types",
}


def unserved_error(method: str, path: str) -> NotFound:
    """The error for `method` on `path` (under /v1), which no route serves."""
    rest = path.removeprefix("/v1").strip("/")
    for prefix, capability in UNSERVED.items():
        if rest == prefix or rest.startswith(prefix + "/"):
            return NotFound(
                f"{method} {path}: this gateway does not offer {capability}.",
                code="unsupported_endpoint",
            )
    return NotFound(f"{method} {path}: no such endpoint on this gateway.")


def install(app: FastAPI) -> None:
    """Answer /v1 paths no route serves with `unserved_error`; other paths as before."""
    not_found = app.router.default

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if scope["type"] != "http" or not (path == "/v1" or path.startswith("/v1/")):
            await not_found(scope, receive, send)
            return
        request = Request(scope, receive)
        runtime: Runtime = request.app.state.runtime
        await authenticate(request.headers, runtime.catalog, runtime.oidc)
        raise unserved_error(request.method, path)

    app.router.default = fallback
