"""What every provider adapter must do, run against each one in the registry."""

from __future__ import annotations

import ast
from pathlib import Path

import orjson
import pytest
from tests.support import fixtures
from tests.support.openai_schema import validate_openai

from tollway_common import errors
from tollway_common.contract import Endpoint
from tollway_common.control import Deployment
from tollway_router import fake_upstream, providers
from tollway_router.adapter import Adapter, ChunkOut
from tollway_router.providers import REGISTRY
from tollway_router.sse_decoder import SseDecoder

PROVIDERS_DIR = Path(providers.__file__).parent
# A provider is a module `<type>.py` or, once it outgrows one file, a package `<type>/`.
PROVIDER_MODULES = {p.stem for p in PROVIDERS_DIR.glob("*.py") if p.stem != "__init__"} | {
    p.parent.name for p in PROVIDERS_DIR.glob("*/__init__.py")
}
FORBIDDEN_IMPORTS = {"httpx", "nats", "redis", "asyncio", "anthropic", "socket"}
CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hello"}], "stream": True}
ERROR_BODY = b'{"error": {"message": "boom", "type": "x", "param": null, "code": null}}'


@pytest.fixture(params=sorted(REGISTRY), ids=str)
def adapter(request: pytest.FixtureRequest) -> Adapter[object]:
    return REGISTRY[request.param]


def _target(adapter: Adapter[object]) -> Deployment:
    return Deployment(name="d", provider=adapter.type, model="upstream-model")


def test_every_provider_module_exports_a_registered_adapter() -> None:
    assert set(REGISTRY) == PROVIDER_MODULES


@pytest.mark.parametrize(
    "path",
    sorted(PROVIDERS_DIR.rglob("*.py")),
    ids=lambda p: str(p.relative_to(PROVIDERS_DIR)),
)
def test_provider_modules_do_no_io(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        assert not {name.split(".")[0] for name in names} & FORBIDDEN_IMPORTS, path


def _text_stream(adapter: Adapter[object]) -> bytes:
    """The provider's recorded `text_stream.stream.sse`; a provider without one speaks
    OpenAI's wire, which the in-process demo server answers."""
    recorded = fixtures.path(adapter.type, "text_stream", "stream.sse")
    if recorded.exists():
        return recorded.read_bytes()
    call = adapter.build_request(Endpoint.CHAT_COMPLETIONS, CHAT, _target(adapter))
    reply = fake_upstream.respond(call.path, orjson.loads(call.body))
    return fake_upstream.sse_bytes(reply.events)


def _text_chunks(adapter: Adapter[object]) -> list[ChunkOut]:
    state = adapter.new_stream_state()
    return [
        chunk
        for event in SseDecoder().feed(_text_stream(adapter))
        for chunk in adapter.parse_stream_event(event, state)
    ]


def test_chat_stream_request_is_a_stream(adapter: Adapter[object]) -> None:
    assert Endpoint.CHAT_COMPLETIONS in adapter.endpoints
    assert adapter.build_request(Endpoint.CHAT_COMPLETIONS, CHAT, _target(adapter)).stream


def test_text_stream_gives_valid_chunks_and_usage(adapter: Adapter[object]) -> None:
    chunks = _text_chunks(adapter)
    assert any(chunk.usage_only and chunk.usage for chunk in chunks)
    assert sum(chunk.output_chars for chunk in chunks) > 0
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", orjson.loads(chunk.data))


def test_text_stream_chunks_share_one_id(adapter: Adapter[object]) -> None:
    chunks = [orjson.loads(chunk.data) for chunk in _text_chunks(adapter)]
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, errors.UpstreamBadRequest),
        (401, errors.UpstreamAuthFailed),
        (429, errors.UpstreamRateLimited),
        (500, errors.UpstreamUnavailable),
    ],
)
def test_error_statuses_map_to_the_taxonomy(
    adapter: Adapter[object], status: int, expected: type[errors.TollwayError]
) -> None:
    error = adapter.parse_error(status, {"retry-after": "7"}, ERROR_BODY)
    assert type(error) is expected
    assert error.status != 401, "the client's key is fine; only ours was refused"
    validate_openai("ErrorResponse", {"error": error.body().model_dump()})


def test_rate_limit_passes_retry_after_on(adapter: Adapter[object]) -> None:
    assert adapter.parse_error(429, {"retry-after": "7"}, ERROR_BODY).retry_after == 7
