"""The built-in price catalog through a real stack: an alias the operator has not priced is
charged at the catalog's price of the model its upstream runs, in the edge's budgets and in
metering's rows (which name the catalog as the price's source); an operator price overrides it;
a model the catalog does not know stays unpriced."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx
from redis.asyncio import Redis
from tests.support.polling import eventually, kv_watchers_caught_up
from tests.support.stack import Stack

from tollway_common import contract
from tollway_common.price_catalog import CATALOG_VERSION, PriceCatalog
from tollway_common.pricing import cost_of, to_micro_units

ADMIN_TOKEN = "tw-admin-catalog-test-0123456789"
CATALOG_ON = "true"
# What the fake upstream behind `gpt-test` says it runs (it echoes the deployment's model).
GPT = PriceCatalog().price("openai", "gpt-4o-mini")


def _chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "price me"}]}


async def _budget_spent_micro(redis_url: str) -> int:
    redis = Redis.from_url(redis_url)
    try:
        return sum(
            [
                int(await redis.get(key) or 0)
                async for key in redis.scan_iter(match="tw:*:bud:*")
                if key.decode().rsplit(":", 1)[-1].isdigit()  # not the alert markers
            ]
        )
    finally:
        await redis.aclose()


async def test_unpriced_aliases_take_the_catalog_price_until_the_operator_sets_one(
    stack: Stack,
) -> None:
    assert GPT is not None
    stack.start_edge("edge-catalog", TOLLWAY_EDGE_LIMITS__PRICE_CATALOG=CATALOG_ON)
    stack.start_metering(TOLLWAY_METERING_PRICE_CATALOG=CATALOG_ON)
    admin_url = stack.start_admin(ADMIN_TOKEN)
    since_ms = int(time.time() * 1000) - 1000
    async with (
        httpx.AsyncClient(
            base_url=admin_url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as admin,
        httpx.AsyncClient(base_url=f"{stack.edge_url}/v1", timeout=30) as edge,
    ):
        budget = await admin.post("/api/v1/budgets", json={"budget_id": "cat", "amount": "100"})
        assert budget.status_code == 201, budget.text
        issued = await admin.post("/api/v1/keys", json={"name": "priced", "budget_ids": ["cat"]})
        assert issued.status_code == 201, issued.text
        auth = {"authorization": f"Bearer {issued.json()['key']}"}

        async def served(model: str) -> dict[str, Any]:
            answer = await edge.post("/chat/completions", json=_chat(model), headers=auth)
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        first = await eventually(lambda: served("gpt-test"), "the edge knows the new key")
        demo = await served("tollway-demo")  # the in-process fake: no catalog knows it
        usage = first["usage"]
        catalog_cost = cost_of(GPT, usage["prompt_tokens"], usage["completion_tokens"])
        assert catalog_cost > 0

        async def budget_charged() -> None:
            spent = await _budget_spent_micro(stack.redis.url)
            assert spent == to_micro_units(catalog_cost), "the edge settles at the catalog price"

        await eventually(budget_charged, "the edge settles the answer against the budget")

        async def rows(count: int) -> dict[str, dict[str, Any]]:
            exported = await admin.get(
                "/api/v1/usage/export", params={"since_ms": since_ms, "format": "jsonl"}
            )
            assert exported.status_code == 200, exported.text
            found = [json.loads(line) for line in exported.text.splitlines()]
            assert len(found) >= count, found
            return {row["request_id"]: row for row in found}

        stored = await eventually(lambda: rows(2), "metering stores both answers", 15)
        priced = _only(stored, "gpt-test")
        assert priced["price_version"] == CATALOG_VERSION
        assert priced["unpriced"] is False
        assert Decimal(str(priced["cost"])) == catalog_cost
        unknown = _only(stored, "tollway-demo")
        assert (unknown["unpriced"], Decimal(str(unknown["cost"]))) == (True, Decimal(0))
        assert demo["usage"]["total_tokens"] > 0

        own = {
            "model": "gpt-test",
            "input_per_mtok": "7",
            "output_per_mtok": "11",
            "version": "ops-1",
        }
        created = await admin.post("/api/v1/prices", json=own)
        assert created.status_code == 201, created.text
        await eventually(
            lambda: kv_watchers_caught_up(
                stack.nats.url_as("test"), contract.KV_PRICES, watchers=3
            ),
            "every edge's and metering's price mirror has the operator's price",
        )
        again = await served("gpt-test")
        stored = await eventually(lambda: rows(3), "metering stores the third answer", 15)
        overridden = [
            row
            for row in stored.values()
            if row["model_alias"] == "gpt-test" and row["price_version"] == "ops-1"
        ]
        assert len(overridden) == 1, stored
        tokens = again["usage"]
        expected = (
            tokens["prompt_tokens"] * Decimal(7) + tokens["completion_tokens"] * Decimal(11)
        ) / Decimal(1_000_000)
        assert Decimal(str(overridden[0]["cost"])) == expected


def _only(rows: dict[str, dict[str, Any]], alias: str) -> dict[str, Any]:
    (row,) = [row for row in rows.values() if row["model_alias"] == alias]
    return row
