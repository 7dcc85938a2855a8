"""The router's usage publish outlasts a usage stream that answers nothing for a while (what a
JetStream leader election after a lost node looks like), and still stores the event once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats
import pytest
from tests.support.nats import start_test_nats
from tests.support.usage_stream import a_usage_event

from tollway_common import contract, nats_client
from tollway_router.usage import publish_usage

pytestmark = pytest.mark.integration

# Longer than the five quick attempts the router used to give up after (about 3 s).
SILENCE_S = 4.5


async def test_a_usage_event_waits_out_a_silent_stream_and_is_stored_once(tmp_path: Path) -> None:
    server = start_test_nats(tmp_path / "nats")
    nc = await nats.connect(server.url_as("test"))
    try:
        js = nc.jetstream()
        event = a_usage_event()
        # No stream yet: every publish is answered by nothing, as during an election.
        publishing = asyncio.create_task(publish_usage(js, event))
        await asyncio.sleep(SILENCE_S)
        assert not publishing.done(), "it is still trying"
        await nats_client.ensure_usage_stream(js, replicas=1)
        await asyncio.wait_for(publishing, 10)
        assert (await js.stream_info(contract.USAGE_STREAM)).state.messages == 1, "stored"
        await publish_usage(js, event)  # a repeat, as after a lost acknowledgement
        assert (await js.stream_info(contract.USAGE_STREAM)).state.messages == 1, "once"
    finally:
        await nc.close()
        server.stop()


async def test_publishing_gives_up_after_its_window(tmp_path: Path) -> None:
    server = start_test_nats(tmp_path / "nats")
    nc = await nats.connect(server.url_as("test"))
    try:
        started = time.monotonic()
        await publish_usage(nc.jetstream(), a_usage_event(), window_s=1.0)
        assert time.monotonic() - started < 5
    finally:
        await nc.close()
        server.stop()
