"""What every provider adapter must do, run against each one in the registry."""

from __future__ import annotations

import ast
from pathlib import Path

import orjson
import pytest
from tests.support.openai_schema import validate_openai

from tollway_common import errors
from tollway_common.contract import Endpoint
from tollway_common.control import Deployment
from tollway_router import fake_upstream, providers
from tollway_router.adapter import Adapter
from tollway_router.providers import REGISTRY
from tollway_router.sse_decoder import SseDecoder

PROVIDERS_DIR = Path(providers.__file__).parent
FORBIDDEN_IMPORTS = {"httpx", "nats", "redis", "asyncio", "anthropic", "socket"}
CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hello"}], "stream": True}
ERROR_BODY = b'{"error": {"message": "boom", "type": "x", "param": null, "code": null}}'


@pytest.fixture(params=sorted(REGISTRY), ids=str)
def adapter(request: pytest.FixtureRequest) -> Adapter[object]:
    return REGISTRY[request.param]


def _target(adapter: Adapter[object]) -> Deployment:
    return Deployment(name="d", provider=adapter.type, model="upstream-model")


def test_every_provider_module_exports_a_registered_adapter() -> None:
    modules = {p.stem for p in PROVIDERS_DIR.glob("*.py") if p.stem != "__init__"}
    assert modules == set(REGISTRY)


@pytest.mark.parametrize("path", sorted(PROVIDERS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_provider_modules_do_no_io(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        assert not {name.split(".")[0] for name in names} & FORBIDDEN_IMPORTS, path


def test_text_stream_gives_valid_chunks_and_usage(adapter: Adapter[object]) -> None:
    call = adapter.build_request(Endpoint.CHAT_COMPLETIONS, CHAT, _target(adapter))
    assert call.stream
    # The demo server answers any provider's request shape that speaks OpenAI.
    reply = fake_upstream.respond(call.path, orjson.loads(call.body))
    state = adapter.new_stream_state()
    chunks = [
        chunk
        for event in SseDecoder().feed(fake_upstream.sse_bytes(reply.events))
        for chunk in adapter.parse_stream_event(event, state)
    ]
    assert any(chunk.usage_only and chunk.usage for chunk in chunks)
    assert sum(chunk.output_chars for chunk in chunks) > 0
    for chunk in chunks:
        validate_openai("CreateChatCompletionStreamResponse", orjson.loads(chunk.data))


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, errors.InvalidRequest),
        (401, errors.UpstreamAuthFailed),
        (429, errors.UpstreamRateLimited),
        (500, errors.UpstreamUnavailable),
    ],
)
def test_error_statuses_map_to_the_taxonomy(
    adapter: Adapter[object], status: int, expected: type[errors.TollwayError]
) -> None:
    assert isinstance(adapter.parse_error(status, {}, ERROR_BODY), expected)
