"""Every service replica announces itself on NATS every few seconds; admin keeps the board
of who is up (the UI's overview shows it). Plain core NATS: a missed announcement is only
a late one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from tollway_common import contract
from tollway_common.contract import Presence

log = logging.getLogger(__name__)

INTERVAL_S = 5.0
# Gone after this many missed announcements.
_MISSED = 3


def instance_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def package_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


class Announcer:
    def __init__(
        self,
        nc: Client,
        service: str,
        ready: Callable[[], bool] = lambda: True,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self._nc = nc
        self._service = service
        self._ready = ready
        self._interval_s = interval_s
        self._started_at_ms = int(time.time() * 1000)
        self._instance = instance_name()
        self._version = package_version(f"tollway-{service}")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"presence-{self._service}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            presence = Presence(
                service=self._service,
                instance=self._instance,
                version=self._version,
                started_at_ms=self._started_at_ms,
                at_ms=int(time.time() * 1000),
                ready=self._ready(),
            )
            with contextlib.suppress(nats.errors.Error):
                await self._nc.publish(
                    contract.presence_subject(self._service), contract.encode(presence)
                )
            await asyncio.sleep(self._interval_s)


class PresenceBoard:
    """The latest announcement of every replica seen within the last few intervals."""

    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self._seen: dict[tuple[str, str], Presence] = {}
        self._interval_s = interval_s
        self._subscription: Subscription | None = None

    async def start(self, nc: Client) -> None:
        self._subscription = await nc.subscribe(contract.PRESENCE_WILDCARD, cb=self._on_message)

    async def stop(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()

    async def _on_message(self, msg: Msg) -> None:
        try:
            presence = contract.decode_presence(msg.data)
        except ValidationError:
            return
        self._seen[(presence.service, presence.instance)] = presence

    def replicas(self) -> list[Presence]:
        oldest = int((time.time() - self._interval_s * _MISSED) * 1000)
        live = [p for p in self._seen.values() if p.at_ms >= oldest]
        return sorted(live, key=lambda p: (p.service, p.instance))
