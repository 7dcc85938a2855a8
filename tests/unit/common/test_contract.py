from __future__ import annotations

import re

import orjson
import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from tollway_common import contract
from tollway_common.contract import (
    AnalyticsQuery,
    Endpoint,
    ErrorReply,
    FinalReply,
    InferRequest,
    Principal,
    RequestFacts,
    ResolvedRoute,
    TenantCredential,
    Usage,
    UsageEvent,
)
from tollway_common.openai_errors import OpenAIErrorBody

PRINCIPAL = Principal(key_id="key_1", key_name="dev", team_id="t", org_id="o")

INFER = InferRequest(
    request_id="0190-abc",
    endpoint=Endpoint.CHAT_COMPLETIONS,
    principal=PRINCIPAL,
    route=ResolvedRoute(alias="demo", catalog_revision=3),
    received_at_ms=1,
    deadline_ms=2,
    stream=True,
    include_usage=True,
    body={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
    facts=RequestFacts(max_tokens=256, prompt_tokens=1),
)


@pytest.mark.parametrize(
    ("model", "decode"),
    [
        (INFER, contract.decode_infer_request),
        (
            FinalReply(usage=Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3)),
            contract.decode_final_reply,
        ),
        (
            ErrorReply(status=429, error=OpenAIErrorBody(message="m", type="t"), retry_after=2),
            contract.decode_error_reply,
        ),
        (
            UsageEvent(
                request_id="r",
                received_at_ms=1,
                endpoint=Endpoint.EMBEDDINGS,
                principal=PRINCIPAL,
                model_alias="demo",
                status_code=200,
            ),
            contract.decode_usage_event,
        ),
        (AnalyticsQuery(request_ids=["a"]), contract.decode_analytics_query),
        (
            contract.DeploymentHealth(
                alias="gpt", deployment="east", state=contract.HealthState.RATE_LIMITED, until_ms=9
            ),
            contract.decode_deployment_health,
        ),
    ],
)
def test_every_wire_model_round_trips(model: BaseModel, decode: object) -> None:
    assert callable(decode)
    assert decode(contract.encode(model)) == model


def test_readers_ignore_fields_a_newer_sender_adds() -> None:
    data = contract.encode(FinalReply(deployment="d"))[:-1] + b',"added_in_v1_5":true}'
    assert contract.decode_final_reply(data) == FinalReply(deployment="d")


def test_a_request_from_an_edge_older_than_the_facts_has_no_bound_and_no_estimate() -> None:
    older = orjson.loads(contract.encode(INFER))
    del older["facts"]
    assert contract.decode_infer_request(orjson.dumps(older)).facts == RequestFacts()


def test_subjects_are_versioned_and_named_in_one_place() -> None:
    assert contract.infer_subject(Endpoint.CHAT_COMPLETIONS) == "tollway.v1.infer.chat_completions"
    assert contract.cancel_subject("r1") == "tollway.v1.cancel.r1"
    assert contract.request_id_from_cancel_subject(contract.cancel_subject("r1")) == "r1"
    assert contract.analytics_subject("usage") == "tollway.v1.analytics.usage"


def test_health_keys_are_valid_kv_keys_and_keep_parts_apart() -> None:
    keys = {
        contract.health_key("llama3.1:8b", "local/a"),
        contract.health_key("llama3.1:8b", "local", "a"),
        contract.health_key("llama3.1:8b", "local/a", "key 2"),
    }
    assert len(keys) == 3
    assert all(re.fullmatch(r"[-/_=.a-zA-Z0-9]+", key) for key in keys)


def test_reply_headers_carry_kind_and_sequence() -> None:
    assert contract.reply_headers(contract.ReplyKind.CHUNK, 4) == {
        contract.HEADER_KIND: "chunk",
        contract.HEADER_SEQ: "4",
    }


def test_chunks_ready_together_travel_in_one_body_and_split_back() -> None:
    pieces = [b'{"a":1}', b"", '{"b":"\u00e9"}'.encode()]
    body, sizes = contract.chunks_body(pieces)
    assert sizes == "7,0,10"
    assert contract.split_chunks(body, sizes) == pieces


@pytest.mark.parametrize("sizes", ["7,0,11", "7,0,9", "7,x", "-1,18", ""])
def test_chunks_that_do_not_match_their_sizes_are_refused(sizes: str) -> None:
    body, _ = contract.chunks_body([b'{"a":1}', b"", '{"b":"\u00e9"}'.encode()])
    with pytest.raises(ValueError, match="sizes"):
        contract.split_chunks(body, sizes)


TENANT_KEY = "foundry-tenant-key-0123456789abcdef"


def _tenant_request() -> InferRequest:
    return INFER.model_copy(
        update={"tenant": TenantCredential(resource="acme-east", api_key=SecretStr(TENANT_KEY))}
    )


@pytest.mark.proves("tenancy_secret_kept", "anthropic")
def test_a_tenant_credential_crosses_the_wire_and_nowhere_else() -> None:
    infer = _tenant_request()
    decoded = contract.decode_infer_request(contract.encode(infer))
    assert decoded.tenant is not None
    assert decoded.tenant.api_key.get_secret_value() == TENANT_KEY
    assert TENANT_KEY not in repr(infer)
    assert TENANT_KEY not in str(infer)
    assert TENANT_KEY not in infer.model_dump_json()
    assert TENANT_KEY not in str(infer.model_dump())


@pytest.mark.proves("tenancy_secret_kept", "anthropic")
def test_a_malformed_request_does_not_echo_the_tenant_key_in_its_error() -> None:
    raw = contract.encode(_tenant_request()).replace(b'"acme-east"', b"42")
    with pytest.raises(ValidationError) as caught:
        contract.decode_infer_request(raw)
    assert TENANT_KEY not in str(caught.value)
