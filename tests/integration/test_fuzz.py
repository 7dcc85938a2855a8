"""Fuzz the edge with OpenAI's published spec and admin with its own (docs/fuzz.md).

Schemathesis draws requests from each operation's spec, valid ones and ones that break it, and
sends them to a real stack. The property: nothing gets a 5xx, every error is the client's error
JSON with an `x-request-id`, and a success matches the response schema the spec gives. Half of
the inference requests name the demo model, so they get past the catalog to a router.

The default budget is small and its examples fixed (`derandomize`), so `make test` stays fast
and a failure repeats; `make fuzz` sets `TOLLWAY_FUZZ_EXAMPLES` higher and draws afresh.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, TypeAlias

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import response_schema_conformance
from tests.support.configs import TEST_KEY, gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.fuzz_specs import SERVED_OPENAI_OPERATIONS, served_openai_spec
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack, open_stack

ADMIN_TOKEN = "fuzz-admin-token-0123456789"
DEMO_MODEL = "tollway-demo"
_BUDGET = os.environ.get("TOLLWAY_FUZZ_EXAMPLES")
EXAMPLES = int(_BUDGET or "5")
_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=_BUDGET is None,
    deadline=None,
    database=None,
    # Specs this large trip Hypothesis's data-size and speed heuristics; the budget bounds it.
    suppress_health_check=list(HealthCheck),
    # Shrinking replays hundreds of requests against the stack: the failing request as drawn
    # is reported instead, with schemathesis's curl line to repeat it.
    phases=[Phase.explicit, Phase.generate],
)
Operation: TypeAlias = APIOperation[Any, Any, Any, Any]
FuzzCase: TypeAlias = Case[Operation]
MODES = st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
OPENAI_OPERATIONS = [
    f"{method.upper()} {path}"
    for path, methods in SERVED_OPENAI_OPERATIONS.items()
    for method in methods
]


@pytest.fixture(scope="module")
def fuzz_stack(
    tmp_path_factory: pytest.TempPathFactory, module_upstream: FakeOpenAIServer
) -> Iterator[tuple[Stack, str]]:
    """Router, edge, metering and admin (serving its OpenAPI document) on one stack."""
    workdir = tmp_path_factory.mktemp("fuzz")
    with ExitStack() as cleanup:
        stack = open_stack(workdir, cleanup)
        stack.apply(gateway_config(workdir, module_upstream.base_url))
        # Started side by side: none waits for another to be ready, and one by one they took
        # twice as long on a loaded machine.
        with ThreadPoolExecutor(4) as pool:
            starts = [pool.submit(start) for start in (stack.start_router, stack.start_metering)]
            starts.append(pool.submit(stack.start_edge))
            admin = pool.submit(stack.start_admin, ADMIN_TOKEN, TOLLWAY_ADMIN_API_DOCS="true")
            for start in starts:
                start.result()
            admin_url = admin.result()
        yield stack, admin_url


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def openai_schema() -> BaseSchema:
    return schemathesis.openapi.from_dict(served_openai_spec())


@pytest.fixture(scope="module")
def admin_schema(fuzz_stack: tuple[Stack, str]) -> BaseSchema:
    _, admin_url = fuzz_stack
    document = httpx.get(f"{admin_url}/openapi.json").raise_for_status().json()
    return schemathesis.openapi.from_dict(document)


def _operations(schema: BaseSchema) -> dict[str, Operation]:
    operations: dict[str, Operation] = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"schemathesis could not read an operation: {result!r}"
        operations[result.ok().label] = result.ok()
    return operations


def _send(case: FuzzCase, base_url: str, session: requests.Session, token: str) -> None:
    """Send `case` with a valid credential (the spec's security scheme makes schemathesis
    draw one of its own), then check the property: no 5xx, errors in OpenAI's error shape,
    successes as the spec says."""
    case.headers.pop("authorization", None)  # a case-insensitive dict
    response = case.call(
        base_url=base_url, session=session, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    label = (
        f"{case.operation.label} with body {case.body!r}, query {case.query!r}, "
        f"path {case.path_parameters!r}, headers {case.headers!r}"
    )
    assert response.headers.get("x-request-id"), label
    if response.status_code >= 400:
        assert response.status_code < 500, f"{label}: {response.status_code} {response.text}"
        assert response.headers.get("content-type") == ["application/json"], label
        validate_openai("ErrorResponse", response.json())
        return
    if _spec_gap(case, response) is None:
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])


def _spec_gap(case: FuzzCase, response: Response) -> str | None:
    """Why OpenAI's spec cannot judge this success, where it describes less than OpenAI sends."""
    body = case.body if isinstance(case.body, dict) else {}
    if case.operation.label == "POST /embeddings" and body.get("encoding_format") == "base64":
        return "the spec types every embedding as a list of floats, never the base64 string"
    if case.operation.label == "GET /files" and not response.json()["data"]:
        return "the spec requires string first_id and last_id, which an empty page has not"
    return None


def _with_model(case: FuzzCase, model: str | None) -> FuzzCase:
    if model is not None and isinstance(case.body, dict) and "model" in case.body:
        case.body = {**case.body, "model": model}
    return case


def _cases(operation: Operation) -> st.SearchStrategy[FuzzCase]:
    """Requests the spec allows and requests it forbids, in one stream of examples."""
    return MODES.flatmap(lambda mode: operation.as_strategy(generation_mode=mode))


@pytest.mark.parametrize("label", OPENAI_OPERATIONS)
def test_the_edge_answers_any_openai_request_without_a_5xx(
    fuzz_stack: tuple[Stack, str], openai_schema: BaseSchema, http: requests.Session, label: str
) -> None:
    stack, _ = fuzz_stack
    operation = _operations(openai_schema)[label]
    models = st.sampled_from([DEMO_MODEL, None])

    @_SETTINGS
    @given(case=_cases(operation), model=models)
    def fuzz(case: FuzzCase, model: str | None) -> None:
        _send(_with_model(case, model), stack.base_url, http, TEST_KEY)

    fuzz()


def test_admin_answers_any_request_to_its_api_without_a_5xx(
    fuzz_stack: tuple[Stack, str], admin_schema: BaseSchema, http: requests.Session
) -> None:
    """One run over every operation admin's document lists, the budget per operation."""
    _, admin_url = fuzz_stack
    operations = list(_operations(admin_schema).values())
    assert len(operations) > 40, f"admin's OpenAPI document lists {len(operations)} operations"
    cases = st.sampled_from(operations).flatmap(_cases)

    @settings(_SETTINGS, max_examples=EXAMPLES * len(operations))
    @given(case=cases)
    def fuzz(case: FuzzCase) -> None:
        _send(case, admin_url, http, ADMIN_TOKEN)

    fuzz()
