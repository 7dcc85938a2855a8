"""The edge's request flow in one process: authenticate, read the facts, apply policy, resolve
the model, build the one InferRequest and relay the replies. The routers are a scripted reply
mux; keys without limits never reach Redis (limits are tested against a real one in
tests/integration/test_limit_gate.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from starlette.responses import Response
from tests.support.edge_fakes import ScriptedMux, catalog, post, runtime

from tollway_common import contract, http_metrics
from tollway_common.contract import (
    Endpoint,
    ErrorReply,
    FinalReply,
    ReplyKind,
    RequestFacts,
    Usage,
)
from tollway_common.control import Deployment, KeyRecord, ModelAlias, Policy, hash_key
from tollway_common.errors import (
    AuthenticationFailed,
    InvalidRequest,
    ModelNotFound,
    PermissionDenied,
)
from tollway_common.openai_errors import OpenAIErrorBody
from tollway_edge import inference, sse
from tollway_edge.errors import ReplyError
from tollway_edge.runtime import Runtime

CHAT_PATH = "/v1/chat/completions"
DEMO = ModelAlias(name="demo", deployments=[Deployment(name="d", provider="fake", model="m")])
OTHER = ModelAlias(name="other", deployments=[Deployment(name="o", provider="fake", model="m")])
OPEN_KEY = "sk-tollway-open-0123456789"
CAPPED_KEY = "sk-tollway-capped-0123456789"
KEYS = [
    KeyRecord(key_id="open", name="open", key_hash=hash_key(OPEN_KEY), prefix="sk-o"),
    KeyRecord(
        key_id="capped",
        name="capped",
        key_hash=hash_key(CAPPED_KEY),
        prefix="sk-c",
        policy=Policy(allow_models=["demo"], max_tokens_cap=100),
    ),
]
ANSWER = orjson.dumps({"id": "chatcmpl-1", "object": "chat.completion", "choices": []})
FINAL = contract.encode(FinalReply(usage=Usage(prompt_tokens=1, total_tokens=1)))


def _chat(**extra: Any) -> dict[str, Any]:
    return {"model": "demo", "messages": [{"role": "user", "content": "x" * 40}], **extra}


def _runtime(*script: tuple[ReplyKind, bytes]) -> Runtime:
    return runtime(catalog(models=[DEMO, OTHER], keys=KEYS), ScriptedMux(script))


async def _handle(rt: Runtime, body: Any, key: str | None = OPEN_KEY) -> Response:
    return await inference.handle(post(CHAT_PATH, body, key), Endpoint.CHAT_COMPLETIONS, rt, "r")


def _mux(rt: Runtime) -> ScriptedMux:
    assert isinstance(rt.mux, ScriptedMux)
    return rt.mux


async def test_both_token_fields_are_held_to_the_cap_by_the_larger() -> None:
    # Both fields go upstream; checking only max_completion_tokens let max_tokens past the cap.
    rt = _runtime((ReplyKind.CHUNK, ANSWER), (ReplyKind.FINAL, FINAL))
    with pytest.raises(InvalidRequest, match=r"max_tokens 1000 is above the key 'capped' cap"):
        await _handle(rt, _chat(max_completion_tokens=10, max_tokens=1000), CAPPED_KEY)
    assert _mux(rt).sent == [], "nothing reached a router"


async def test_a_capped_request_without_a_bound_is_sent_with_the_cap() -> None:
    rt = _runtime((ReplyKind.CHUNK, ANSWER), (ReplyKind.FINAL, FINAL))
    await _handle(rt, _chat(), CAPPED_KEY)
    infer = _mux(rt).infer
    assert infer.body == {**_chat(), "max_completion_tokens": 100}
    assert infer.facts == RequestFacts(max_tokens=100, prompt_tokens=10)


async def test_the_request_carries_the_facts_read_once_and_the_body_as_sent() -> None:
    rt = _runtime((ReplyKind.CHUNK, ANSWER), (ReplyKind.FINAL, FINAL))
    body = _chat(max_completion_tokens=10, max_tokens=30, stream=False)
    await _handle(rt, body)
    subject, infer = _mux(rt).sent[0]
    assert subject == contract.infer_subject(Endpoint.CHAT_COMPLETIONS)
    assert infer.body == body
    assert infer.facts == RequestFacts(max_tokens=30, prompt_tokens=10)
    assert (infer.route.alias, infer.principal.key_id, infer.stream) == ("demo", "open", False)


async def test_a_reply_is_relayed_as_one_json_body() -> None:
    rt = _runtime((ReplyKind.CHUNK, ANSWER), (ReplyKind.FINAL, FINAL))
    response = await _handle(rt, _chat())
    assert (response.status_code, response.body) == (200, ANSWER)
    assert response.media_type == "application/json"


async def test_a_routers_error_reply_is_raised_as_it_was_classified() -> None:
    error = ErrorReply(status=502, error=OpenAIErrorBody(message="down", type="server_error"))
    rt = _runtime((ReplyKind.ERROR, contract.encode(error)))
    with pytest.raises(ReplyError) as raised:
        await _handle(rt, _chat())
    assert raised.value.reply == error


async def test_a_stream_relays_each_chunk_as_an_event_then_done() -> None:
    chunks = [orjson.dumps({"n": n}) for n in range(2)]
    rt = _runtime(*((ReplyKind.CHUNK, c) for c in chunks), (ReplyKind.FINAL, FINAL))
    response = await _handle(rt, _chat(stream=True))
    assert isinstance(response, sse.SseResponse)
    events = [event async for event in response.events]
    assert events == [sse.event(chunks[0]), sse.event(chunks[1]), sse.DONE]
    assert _mux(rt).infer.stream is True


async def test_an_error_after_the_first_chunk_ends_the_stream_with_an_error_event() -> None:
    error = ErrorReply(status=502, error=OpenAIErrorBody(message="cut", type="server_error"))
    rt = _runtime((ReplyKind.CHUNK, b"{}"), (ReplyKind.ERROR, contract.encode(error)))
    response = await _handle(rt, _chat(stream=True))
    assert isinstance(response, sse.SseResponse)
    events = [event async for event in response.events]
    assert events == [sse.event(b"{}"), sse.error_event(error.error)]


async def test_an_unknown_model_is_not_found() -> None:
    with pytest.raises(ModelNotFound) as raised:
        await _handle(_runtime(), _chat(model="no-such-model"))
    assert raised.value.param == "model"


async def test_a_model_outside_the_keys_allow_list_is_refused_before_it_is_resolved() -> None:
    with pytest.raises(PermissionDenied, match="rule: key 'capped' model policy"):
        await _handle(_runtime(), _chat(model="no-such-model"), CAPPED_KEY)


@pytest.mark.parametrize("key", [None, "sk-not-a-real-key-123"])
async def test_a_missing_or_unknown_key_is_refused(key: str | None) -> None:
    with pytest.raises(AuthenticationFailed):
        await _handle(_runtime(), _chat(), key)


@pytest.mark.parametrize(
    ("content", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b"", None),
        (b'{"model": "demo"}', "messages"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "demo", "messages": []}', "messages"),
        (b'{"model": "demo", "messages": [{"role": "user"}], "stream": "yes"}', "stream"),
        (b'{"model": "demo", "messages": [{}], "max_tokens": 0}', "max_tokens"),
    ],
)
async def test_a_malformed_body_is_an_invalid_request_naming_the_param(
    content: bytes, param: str | None
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        await _handle(_runtime(), content)
    assert raised.value.param == param


async def test_the_model_is_recorded_for_the_request_metrics() -> None:
    rt = _runtime((ReplyKind.CHUNK, ANSWER), (ReplyKind.FINAL, FINAL))
    request = post(CHAT_PATH, _chat(), OPEN_KEY)
    await inference.handle(request, Endpoint.CHAT_COMPLETIONS, rt, "r")
    assert request.scope["state"][http_metrics.MODEL_STATE_KEY] == "demo"
