"""Deliver budget alerts to the webhook their budget names, with retries.

A durable pull consumer on the alerts stream: an alert is acked once its webhook answered 2xx
(or when its budget names no webhook), and redelivered with growing delays otherwise, up to
`MAX_DELIVER` attempts. Several admin replicas share the durable, so each alert is posted by
one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from tollway_admin.metrics import count_alert
from tollway_admin.resources import BUDGETS
from tollway_admin.store import ControlStore
from tollway_common import contract
from tollway_common.contract import Alert

log = logging.getLogger(__name__)

MAX_DELIVER = 8
BACKOFF_S = (1, 2, 5, 15, 30, 60, 120)
_TIMEOUT = aiohttp.ClientTimeout(total=10)


def retry_delay(attempt: int) -> float:
    """Seconds before attempt `attempt + 1` (attempts count from 1)."""
    return float(BACKOFF_S[min(attempt - 1, len(BACKOFF_S) - 1)])


class WebhookDeliverer:
    def __init__(self, js: JetStreamContext, store: ControlStore) -> None:
        self._js = js
        self._store = store

    def webhook_for(self, alert: Alert) -> str | None:
        if not alert.budget_id:
            return None
        budget = self._store.find(BUDGETS, alert.budget_id)
        return budget.webhook_url if budget is not None else None

    async def run(self) -> None:
        config = ConsumerConfig(
            durable_name=contract.ALERTS_WEBHOOK_DURABLE,
            filter_subject=contract.ALERTS_SUBJECT,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
            max_deliver=MAX_DELIVER,
        )
        await self._js.add_consumer(contract.ALERTS_STREAM, config)
        subscription = await self._js.pull_subscribe(
            contract.ALERTS_SUBJECT,
            durable=contract.ALERTS_WEBHOOK_DURABLE,
            stream=contract.ALERTS_STREAM,
            config=config,
        )
        try:
            async with aiohttp.ClientSession(timeout=_TIMEOUT) as session:
                while True:
                    try:
                        messages = await subscription.fetch(10, timeout=5)
                    except TimeoutError:
                        continue
                    except nats.errors.Error as exc:
                        log.warning("alerts consumer: %s", exc)
                        await asyncio.sleep(1)
                        continue
                    for message in messages:
                        try:
                            await self._deliver(session, message)
                        except Exception:  # one bad delivery must not stop the others
                            log.exception("alert delivery failed; it will be redelivered")
        finally:
            # A pull subscription left behind holds the connection's drain for its whole
            # timeout (30 s) when admin stops.
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

    async def _deliver(self, session: aiohttp.ClientSession, message: Msg) -> None:
        try:
            alert = contract.decode_alert(message.data)
        except ValidationError:
            await message.term()
            return
        attempt = message.metadata.num_delivered or 1
        count_alert(alert, attempt)
        url = self.webhook_for(alert)
        if url is None:
            await message.ack()
            return
        try:
            async with session.post(url, json=alert.model_dump(mode="json")) as response:
                delivered = 200 <= response.status < 300
                status = str(response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            delivered, status = False, str(exc) or type(exc).__name__
        if delivered:
            await message.ack()
            return
        log.warning(
            "webhook not delivered",
            extra={"alert_id": alert.alert_id, "attempt": attempt, "status": status},
        )
        if attempt < MAX_DELIVER:
            await message.nak(delay=retry_delay(attempt))
        else:
            with contextlib.suppress(Exception):
                await message.term()
