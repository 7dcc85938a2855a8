"""The NATS floor: one request and its reply through the same nats-server, with nats-py at both
ends and no work in between, sent the way the edge sends an InferRequest (one wildcard inbox
subscription, the request id in a header) and answered the way a router answers (kind and
sequence headers). The edge → router → edge trip cannot cost less than this on the machine.

Run the responder: python -m bench.floor <nats_url>
"""

from __future__ import annotations

import asyncio
import sys
import time

import nats
import uvloop
from nats.aio.msg import Msg
from nats.nuid import NUID

from bench.load import LoadResult, Sample, on_schedule
from tollway_common import contract
from tollway_common.contract import ReplyKind

FLOOR_SUBJECT = "bench.floor"
_INBOX = contract.reply_inbox_prefix("bench-floor")
# About the size of the bench's InferRequest envelope.
_PAYLOAD = b"x" * 1024
_REPLY = b'{"id":"chatcmpl-bench","object":"chat.completion"}'
_REPLY_TIMEOUT_S = 5.0


async def serve(url: str) -> None:
    nc = await nats.connect(url)
    headers = contract.reply_headers(ReplyKind.FINAL, 0)

    async def answer(msg: Msg) -> None:
        await nc.publish(msg.reply, _REPLY, headers=headers)

    await nc.subscribe(FLOOR_SUBJECT, queue="floor", cb=answer)
    await nc.flush()
    print("floor ready", flush=True)
    await asyncio.Event().wait()


async def open_loop_floor(url: str, rate: float, duration_s: float) -> LoadResult:
    """Request-replies on a fixed schedule, timed from each one's scheduled start."""
    nc = await nats.connect(url)
    loop = asyncio.get_running_loop()
    waiting: dict[str, asyncio.Future[float]] = {}
    nuid = NUID()
    result = LoadResult()

    async def on_reply(msg: Msg) -> None:
        future = waiting.pop(msg.subject[len(_INBOX) + 1 :], None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    async def one(scheduled: float) -> None:
        token = nuid.next().decode()
        future: asyncio.Future[float] = loop.create_future()
        waiting[token] = future
        headers = {contract.HEADER_REQUEST_ID: token}
        await nc.publish(FLOOR_SUBJECT, _PAYLOAD, reply=f"{_INBOX}.{token}", headers=headers)
        try:
            answered = await asyncio.wait_for(future, _REPLY_TIMEOUT_S)
        except TimeoutError:
            waiting.pop(token, None)
            result.samples.append(Sample(False, _REPLY_TIMEOUT_S, outcome="TimeoutError"))
            return
        result.samples.append(Sample(True, answered - scheduled))

    try:
        await nc.subscribe(f"{_INBOX}.*", cb=on_reply)
        await nc.flush()
        await on_schedule(rate, duration_s, one)
        result.duration_s = duration_s
    finally:
        await nc.close()
    return result


if __name__ == "__main__":
    uvloop.run(serve(sys.argv[1]))
