"""`/v1/files` and `/v1/batches` through the whole stack with the openai SDK: files in the
object store, owner-only; a batch checked line by line, drained by the routers on the demo
model and a fake OpenAI deployment, with an output and an error file; cancel; and a router
killed mid-batch losing and doubling no line (200 results, 200 usage rows in the warehouse)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from typing import Any

import nats
import nats.errors
import openai
import orjson
import pytest
from openai import AsyncOpenAI
from openai.types import Batch
from tests.support.configs import LIMITED_KEY, TEST_KEY, gateway_config
from tests.support.fake_openai_server import FakeOpenAIServer, Fault
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack, open_stack

from tollway_cli.processes import ManagedProcess
from tollway_common import contract
from tollway_common.contract import AnalyticsQuery, UsageRow
from tollway_common.control import Deployment, ModelAlias, Price, RetryPolicy
from tollway_common.pricing import cost_of

BATCH_ROUTER_ENV = {
    "TOLLWAY_ROUTER_DRAIN_GRACE_S": "5",
    "TOLLWAY_ROUTER_BATCH__CONCURRENCY": "4",
    "TOLLWAY_ROUTER_BATCH__ACK_WAIT_S": "2",
    "TOLLWAY_ROUTER_BATCH__RETRY_DELAY_S": "0.2",
}
_WAIT_S = 45.0
MAX_FILE_BYTES = 1_000_000
# Batch lines of gpt-flaky cost half its price, as on OpenAI's batch API.
FLAKY_PRICE = Price(
    model="gpt-flaky",
    input_per_mtok=Decimal("2"),
    output_per_mtok=Decimal("8"),
    batch_multiplier=Decimal("0.5"),
    version="v1",
)


@pytest.fixture(scope="module")
def batch_stack(
    tmp_path_factory: pytest.TempPathFactory, module_upstream: FakeOpenAIServer
) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("batches")
    with ExitStack() as cleanup:
        stack = open_stack(workdir, cleanup)
        flaky = ModelAlias(
            name="gpt-flaky",
            deployments=[
                Deployment(
                    name="fake-openai-flaky",
                    provider="openai",
                    model="gpt-4o-mini",
                    api_base=module_upstream.base_url,
                    api_key=f"file:{workdir / 'secrets' / 'upstream'}",
                    cooldown_s=0.3,
                )
            ],
            # No retry inside the router: a 429 reaches the batch drain, which waits it out.
            retry=RetryPolicy(max_attempts=1),
        )
        config = gateway_config(workdir, module_upstream.base_url, [flaky])
        stack.apply(config.model_copy(update={"prices": [FLAKY_PRICE]}))
        stack.start_metering()
        stack.start_router(**BATCH_ROUTER_ENV)
        stack.start_edge(TOLLWAY_EDGE_MAX_FILE_BYTES=str(MAX_FILE_BYTES))
        yield stack


def _client(stack: Stack, key: str = TEST_KEY) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=stack.base_url, api_key=key, max_retries=0)


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def _chat_line(custom_id: str, model: str, text: str) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": text}]},
    }


async def _finished(client: AsyncOpenAI, batch_id: str) -> Batch:
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        batch = await client.batches.retrieve(batch_id)
        if batch.status in ("completed", "cancelled", "failed", "expired"):
            return batch
        await asyncio.sleep(0.2)
    pytest.fail(f"batch {batch_id} still {batch.status}: {batch.request_counts}")


async def _lines(client: AsyncOpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    content = await client.files.content(file_id)
    return [orjson.loads(line) for line in content.content.splitlines()]


async def test_files_are_stored_listed_read_and_deleted_by_their_owner_only(
    batch_stack: Stack,
) -> None:
    data = b"hello\n" * 1000
    async with _client(batch_stack) as client, _client(batch_stack, LIMITED_KEY) as other:
        raw = await client.files.with_raw_response.create(
            file=("../secret/notes.txt", data), purpose="user_data"
        )
        created = raw.parse()
        validate_openai("OpenAIFile", raw.http_response.json())
        assert (created.bytes, created.filename, created.purpose) == (
            6000,
            "notes.txt",
            "user_data",
        )
        assert (await client.files.retrieve(created.id)).model_dump() == created.model_dump()
        listed = await client.files.with_raw_response.list(purpose="user_data")
        validate_openai("ListFilesResponse", listed.http_response.json())
        assert created.id in [file.id for file in listed.parse().data]
        assert (await client.files.content(created.id)).content == data
        # Another key's caller is told the file does not exist, and does not see it listed.
        with pytest.raises(openai.NotFoundError):
            await other.files.retrieve(created.id)
        with pytest.raises(openai.NotFoundError):
            await other.files.content(created.id)
        assert created.id not in [file.id for file in (await other.files.list()).data]
        deleted = await client.files.with_raw_response.delete(created.id)
        validate_openai("DeleteFileResponse", deleted.http_response.json())
        with pytest.raises(openai.NotFoundError):
            await client.files.retrieve(created.id)
        with pytest.raises(openai.BadRequestError) as refused:
            await client.files.create(file=("x.txt", b"x"), purpose="nonsense")  # type: ignore[arg-type]
        validate_openai("ErrorResponse", refused.value.response.json())
        with pytest.raises(openai.APIStatusError) as too_large:
            await client.files.create(
                file=("big.bin", b"x" * (MAX_FILE_BYTES + 1)), purpose="user_data"
            )
        assert too_large.value.status_code == 413
        validate_openai("ErrorResponse", too_large.value.response.json())


async def test_a_batch_completes_with_an_output_and_an_error_file(
    batch_stack: Stack, shared_upstream: FakeOpenAIServer
) -> None:
    lines = [
        _chat_line("demo-1", "tollway-demo", "first"),
        _chat_line("demo-2", "tollway-demo", "second"),
        _chat_line("openai-1", "gpt-test", "third"),
    ]
    # The fake OpenAI deployment refuses its one line: it lands in the error file.
    shared_upstream.fault = Fault(kind="status", status=400, times=1)
    async with _client(batch_stack) as client, _client(batch_stack, LIMITED_KEY) as other:
        source = await client.files.create(file=("in.jsonl", _jsonl(lines)), purpose="batch")
        raw = await client.batches.with_raw_response.create(
            input_file_id=source.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"job": "nightly"},
        )
        validate_openai("Batch", raw.http_response.json())
        batch = raw.parse()
        assert batch.request_counts is not None
        assert batch.request_counts.total == 3
        done = await _finished(client, batch.id)
        done_json = (await client.batches.with_raw_response.retrieve(batch.id)).http_response
        validate_openai("Batch", done_json.json())
        assert done.status == "completed"
        assert done.metadata == {"job": "nightly"}
        assert done.request_counts is not None
        assert (done.request_counts.completed, done.request_counts.failed) == (2, 1)
        output = await _lines(client, done.output_file_id)
        assert [line["custom_id"] for line in output] == ["demo-1", "demo-2"]
        for line in output:
            assert line["error"] is None
            assert line["response"]["status_code"] == 200
            answer = openai.types.chat.ChatCompletion.model_validate(line["response"]["body"])
            assert answer.choices[0].message.content
        errors = await _lines(client, done.error_file_id)
        assert [line["custom_id"] for line in errors] == ["openai-1"]
        assert errors[0]["response"]["status_code"] == 400
        assert "error" in errors[0]["response"]["body"]
        output_file = await client.files.retrieve(done.output_file_id or "")
        assert output_file.purpose == "batch_output"
        listed = await client.batches.with_raw_response.list()
        validate_openai("ListBatchesResponse", listed.http_response.json())
        assert batch.id in [b.id for b in listed.parse().data]
        with pytest.raises(openai.NotFoundError):
            await other.batches.retrieve(batch.id)
        with pytest.raises(openai.NotFoundError):
            await other.files.content(done.output_file_id or "")
        with pytest.raises(openai.ConflictError) as finished:
            await client.batches.cancel(batch.id)
        assert finished.value.code == "batch_not_cancellable"


async def test_bad_lines_are_refused_by_number_before_any_is_queued(batch_stack: Stack) -> None:
    lines: list[Any] = [
        _chat_line("a", "tollway-demo", "fine"),
        _chat_line("a", "tollway-demo", "same custom_id"),
        {**_chat_line("c", "tollway-demo", "x"), "url": "/v1/embeddings"},
        _chat_line("d", "no-such-model", "x"),
        "not an object",
    ]
    async with _client(batch_stack) as client, _client(batch_stack, LIMITED_KEY) as limited:
        source = await client.files.create(file=("in.jsonl", _jsonl(lines)), purpose="batch")
        with pytest.raises(openai.BadRequestError) as refused:
            await client.batches.create(
                input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
        validate_openai("ErrorResponse", refused.value.response.json())
        message = refused.value.message
        assert refused.value.code == "invalid_batch_input"
        for number in (2, 3, 4, 5):
            assert f"line {number}:" in message
        assert "line 1:" not in message
        # The limited key may use tollway-demo only: its policy refuses gpt-test lines.
        allowed = [_chat_line("x", "gpt-test", "hi")]
        own = await limited.files.create(file=("in.jsonl", _jsonl(allowed)), purpose="batch")
        with pytest.raises(openai.BadRequestError) as denied:
            await limited.batches.create(
                input_file_id=own.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
        assert "gpt-test" in denied.value.message
        # Someone else's input file does not exist for this caller.
        with pytest.raises(openai.NotFoundError):
            await limited.batches.create(
                input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h"
            )


async def test_a_cancelled_batch_skips_what_it_has_not_sent(
    batch_stack: Stack, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(kind="slow_start", delay_s=0.2)
    lines = [_chat_line(f"slow-{n}", "gpt-test", f"line {n}") for n in range(40)]
    async with _client(batch_stack) as client:
        source = await client.files.create(file=("in.jsonl", _jsonl(lines)), purpose="batch")
        batch = await client.batches.create(
            input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        cancelling = await client.batches.cancel(batch.id)
        assert cancelling.status == "cancelling"
        done = await _finished(client, batch.id)
        assert done.status == "cancelled"
        assert done.cancelled_at is not None
        assert done.request_counts is not None
        assert done.request_counts.completed + done.request_counts.failed == 40
        skipped = await _lines(client, done.error_file_id)
        assert skipped
        assert all(line["error"]["code"] == "batch_cancelled" for line in skipped)
        assert done.request_counts.completed < 40


async def test_a_line_refused_with_429_waits_and_is_metered_once(
    batch_stack: Stack, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(kind="status", status=429, times=2)
    async with _client(batch_stack) as client:
        source = await client.files.create(
            file=("in.jsonl", _jsonl([_chat_line("flaky", "gpt-flaky", "hi")])), purpose="batch"
        )
        batch = await client.batches.create(
            input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        done = await _finished(client, batch.id)
        assert done.status == "completed"
        [line] = await _lines(client, done.output_file_id)
    assert line["response"]["status_code"] == 200
    assert len(shared_upstream.requests) == 3
    # The refused attempts are not metered: one row, the answer's, at the batch price.
    [row] = await _usage_rows(batch_stack, {line["response"]["request_id"]})
    assert (row.status_code, row.batch_id) == (200, batch.id)
    usage = line["response"]["body"]["usage"]
    live = cost_of(FLAKY_PRICE, usage["prompt_tokens"], usage["completion_tokens"])
    assert Decimal(row.cost) == live / 2


async def test_a_router_killed_mid_batch_loses_and_doubles_no_line(
    batch_stack: Stack, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(kind="slow_start", delay_s=0.05)
    count = 200
    lines = [_chat_line(f"line-{n}", "gpt-test", f"request {n}") for n in range(count)]
    async with _client(batch_stack) as client:
        source = await client.files.create(file=("in.jsonl", _jsonl(lines)), purpose="batch")
        batch = await client.batches.create(
            input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        router = _router(batch_stack)
        await _until_progress(client, batch.id, at_least=30)
        router.popen.kill()
        router.popen.wait()
        killed_at = await client.batches.retrieve(batch.id)
        assert killed_at.request_counts is not None
        assert killed_at.request_counts.completed < count, "the router finished before its kill"
        await asyncio.to_thread(batch_stack.start_router, "router-2", **BATCH_ROUTER_ENV)
        done = await _finished(client, batch.id)
        assert done.status == "completed"
        assert done.request_counts is not None
        assert (done.request_counts.completed, done.request_counts.failed) == (count, 0)
        output = await _lines(client, done.output_file_id)
    assert sorted(line["custom_id"] for line in output) == sorted(
        line["custom_id"] for line in lines
    )
    request_ids = {line["response"]["request_id"] for line in output}
    assert len(request_ids) == count
    rows = await _usage_rows(batch_stack, request_ids)
    assert sorted(row.request_id for row in rows) == sorted(request_ids)
    assert {row.batch_id for row in rows} == {batch.id}


async def test_a_router_stopped_with_sigterm_hands_back_its_lines_within_its_grace(
    batch_stack: Stack, shared_upstream: FakeOpenAIServer
) -> None:
    shared_upstream.fault = Fault(kind="slow_start", delay_s=0.2)
    lines = [_chat_line(f"drain-{n}", "gpt-test", f"line {n}") for n in range(30)]
    async with _client(batch_stack) as client:
        source = await client.files.create(file=("in.jsonl", _jsonl(lines)), purpose="batch")
        batch = await client.batches.create(
            input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        await _until_progress(client, batch.id, at_least=4)
        # A clean exit (0), not the SIGKILL `stop` sends after 15 s: the lines in hand finished
        # or went back within the 5 s drain grace.
        router = _router(batch_stack)
        assert await asyncio.to_thread(router.stop, 15) == 0
        # The drain's pull subscription closed before the connection drained; left open, the
        # connection drain waited out its timeout on it and asyncio logged the cancelled wait.
        assert "exception was never retrieved" not in router.log()
        await asyncio.to_thread(batch_stack.start_router, "router-3", **BATCH_ROUTER_ENV)
        done = await _finished(client, batch.id)
        assert done.request_counts is not None
        assert (done.request_counts.completed, done.request_counts.failed) == (30, 0)
        assert len(await _lines(client, done.output_file_id)) == 30


def _router(stack: Stack) -> ManagedProcess:
    return next(p for p in reversed(stack.processes) if p.name.startswith("router"))


async def _until_progress(client: AsyncOpenAI, batch_id: str, at_least: int) -> None:
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        batch = await client.batches.retrieve(batch_id)
        counts = batch.request_counts
        if counts is not None and counts.completed >= at_least:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"batch {batch_id} made no progress")


async def _usage_rows(stack: Stack, request_ids: set[str]) -> list[UsageRow]:
    """The warehouse's rows of these requests, once all are stored (each exactly once)."""
    nc = await nats.connect(stack.nats.url_as("test"))
    try:
        query = contract.encode(AnalyticsQuery(request_ids=sorted(request_ids), limit=1000))
        rows: list[UsageRow] = []
        deadline = time.monotonic() + _WAIT_S
        while time.monotonic() < deadline:
            try:
                msg = await nc.request(contract.analytics_subject("usage"), query, timeout=5)
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                await asyncio.sleep(0.2)
                continue
            reply = contract.decode_analytics_reply(msg.data)
            assert reply.error == "", reply.error
            rows = reply.rows
            if {row.request_id for row in rows} >= request_ids:
                return rows
            await asyncio.sleep(0.3)
        pytest.fail(f"{len(rows)} of {len(request_ids)} usage rows stored")
    finally:
        await nc.close()
