"""Read the usage events routers published, straight from the JetStream stream; and make one."""

from __future__ import annotations

import asyncio
import time

import nats
from nats.js.errors import NoKeysError, NotFoundError

from tollway_common import contract
from tollway_common.contract import DeploymentHealth, Endpoint, Principal, UsageEvent
from tollway_common.ids import new_request_id

_WAIT_S = 15.0


async def usage_events(nats_url: str, request_ids: list[str]) -> dict[str, UsageEvent]:
    """The router's usage event of each request id, waiting for the late ones.

    Read message by message, with no consumer: the stream is a work queue, where a second
    consumer would be refused beside metering's. A stack whose metering runs has taken the
    events it stored out of the stream, so its tests read the stored rows instead."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        found: dict[str, UsageEvent] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _WAIT_S
        next_seq = 1
        while set(request_ids) - found.keys() and loop.time() < deadline:
            try:
                message = await js.get_msg(
                    contract.USAGE_STREAM, seq=next_seq, subject=contract.USAGE_SUBJECT, next=True
                )
            except NotFoundError:
                await asyncio.sleep(0.05)
                continue
            next_seq = (message.seq or next_seq) + 1
            event = contract.decode_usage_event(message.data or b"")
            if event.source is contract.UsageSource.ROUTER:
                found[event.request_id] = event
        return {rid: found[rid] for rid in request_ids if rid in found}
    finally:
        await nc.close()


async def health_records(nats_url: str, alias: str | None = None) -> list[DeploymentHealth]:
    nc = await nats.connect(nats_url)
    try:
        kv = await nc.jetstream().key_value(contract.KV_HEALTH)
        try:
            keys = await kv.keys()
        except NoKeysError:
            return []
        records = []
        for key in keys:
            entry = await kv.get(key)
            if entry.value:
                records.append(contract.decode_deployment_health(entry.value))
        return [r for r in records if alias is None or r.alias == alias]
    finally:
        await nc.close()


async def put_health(nats_url: str, record: DeploymentHealth) -> None:
    nc = await nats.connect(nats_url)
    try:
        kv = await nc.jetstream().key_value(contract.KV_HEALTH)
        key = contract.health_key(record.alias, record.deployment, record.credential)
        await kv.put(key, contract.encode(record))
    finally:
        await nc.close()


async def delete_health(nats_url: str, alias: str, deployment: str, credential: str = "") -> None:
    """What admin does when an operator re-enables a deployment."""
    nc = await nats.connect(nats_url)
    try:
        kv = await nc.jetstream().key_value(contract.KV_HEALTH)
        await kv.delete(contract.health_key(alias, deployment, credential))
    finally:
        await nc.close()


def a_usage_event() -> UsageEvent:
    """A router's event of one answered chat request, with a fresh request id."""
    return UsageEvent(
        request_id=new_request_id(),
        received_at_ms=int(time.time() * 1000),
        endpoint=Endpoint.CHAT_COMPLETIONS,
        principal=Principal(key_id="key-1"),
        model_alias="m",
        deployment="d",
        provider="fake",
        status_code=200,
        prompt_tokens=3,
        completion_tokens=2,
        total_tokens=5,
        latency_ms=1.0,
    )
