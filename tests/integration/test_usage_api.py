"""Admin's usage API over real traffic: summaries with exact cost, burn-down, and the CSV,
JSON lines and FOCUS exports carrying the same numbers."""

from __future__ import annotations

import csv
import io
import json
import time
from decimal import Decimal
from typing import Any

import httpx
from tests.support.configs import TEST_KEY
from tests.support.polling import eventually, kv_watchers_caught_up
from tests.support.stack import Stack

from tollway_common import contract
from tollway_common.control import Price
from tollway_common.pricing import cost_of

ADMIN_TOKEN = "tw-admin-usage-test-0123456789"
PRICE = Price(model="tollway-demo", input_per_mtok=Decimal("3"), output_per_mtok=Decimal("15"))


async def test_summaries_and_exports_agree_with_the_answers(stack: Stack) -> None:
    stack.start_metering()
    admin_url = stack.start_admin(ADMIN_TOKEN)
    since_ms = int(time.time() * 1000) - 1000
    async with (
        httpx.AsyncClient(
            base_url=admin_url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as admin,
        httpx.AsyncClient(
            base_url=stack.base_url, headers={"authorization": f"Bearer {TEST_KEY}"}
        ) as edge,
    ):
        created = await admin.post("/api/v1/prices", json=PRICE.model_dump(mode="json"))
        assert created.status_code == 201, created.text
        await eventually(
            lambda: kv_watchers_caught_up(
                stack.nats.url_as("test"), contract.KV_PRICES, watchers=2
            ),
            "the edge's and metering's price mirrors have the new price",
        )
        usages = []
        for text in ("one", "two two", "three three three"):
            answer = await edge.post(
                "/chat/completions",
                json={"model": "tollway-demo", "messages": [{"role": "user", "content": text}]},
            )
            assert answer.status_code == 200, answer.text
            usages.append(answer.json()["usage"])
        expected = sum(
            (cost_of(PRICE, u["prompt_tokens"], u["completion_tokens"]) for u in usages),
            Decimal(0),
        )
        params: dict[str, str | int] = {
            "since_ms": since_ms,
            "group_by": "model_alias",
            "order_by": "cost",
        }

        async def all_three_stored() -> list[dict[str, object]]:
            answer = await admin.get("/api/v1/usage/summary", params=params)
            # 503 until metering has started; then rows as they are stored
            assert answer.status_code == 200, answer.text
            rows: list[dict[str, object]] = answer.json()["data"]
            assert rows, "no rows yet"
            assert rows[0]["requests"] == 3, rows
            return rows

        rows = await eventually(all_three_stored, "metering stores the three answers", 15)
        assert rows[0]["group"] == "tollway-demo"
        assert Decimal(str(rows[0]["cost"])) == expected
        mine = (await edge.get("/key/info")).json()["usage_this_month"]
        assert (mine["requests"], Decimal(mine["cost"])) == (3, expected), "the key holder's view"
        for dimension in ("deployment", "credential"):
            by = await admin.get("/api/v1/usage/summary", params={**params, "group_by": dimension})
            # The demo deployment has one key, so its credential is the deployment itself.
            assert [(r["group"], r["requests"]) for r in by.json()["data"]] == [("demo-fake", 3)]
        elsewhere: dict[str, str | int] = {"since_ms": since_ms, "deployment": "another"}
        assert (await admin.get("/api/v1/usage/summary", params=elsewhere)).json()["data"] == []
        assert (await admin.get("/api/v1/usage/export", params=elsewhere)).text.count("\n") == 1
        burn = (await admin.get("/api/v1/usage/burn-down", params={"since_ms": since_ms})).json()
        assert Decimal(burn["data"][-1]["cumulative"]) == expected

        exported = await admin.get("/api/v1/usage/export", params={"since_ms": since_ms})
        assert exported.headers["content-type"].startswith("text/csv")
        records = list(csv.DictReader(io.StringIO(exported.text)))
        assert len(records) == 3
        assert {(r["deployment"], r["credential"]) for r in records} == {("demo-fake", "")}
        assert sum(Decimal(r["cost"]) for r in records) == expected
        lines = (
            await admin.get(
                "/api/v1/usage/export", params={"since_ms": since_ms, "format": "jsonl"}
            )
        ).text.splitlines()
        assert sorted(json.loads(line)["request_id"] for line in lines) == sorted(
            r["request_id"] for r in records
        )
        focus = await admin.get(
            "/api/v1/usage/export", params={"since_ms": since_ms, "format": "focus"}
        )
        charges = list(csv.DictReader(io.StringIO(focus.text)))
        assert sum(Decimal(c["BilledCost"]) for c in charges) == expected
        assert {c["ChargeCategory"] for c in charges} == {"Usage"}
        assert {c["ConsumedUnit"] for c in charges} == {"Tokens"}

        async def audited() -> dict[str, list[dict[str, Any]]]:
            audit = (await admin.get("/api/v1/audit", params={"resource_type": "price"})).json()
            assert audit["data"], audit
            return audit  # type: ignore[no-any-return]

        audit = await eventually(audited, "metering stores the price's audit event")
        assert audit["data"][0]["action"] == "price.create"
        assert audit["data"][0]["actor"]["kind"] == "bootstrap"
        # The export takes the listing's filter: only the price's event, here as CSV.
        audit_csv = await admin.get(
            "/api/v1/audit/export", params={"resource_type": "price", "format": "csv"}
        )
        assert audit_csv.headers["content-type"].startswith("text/csv")
        exported_events = list(csv.DictReader(io.StringIO(audit_csv.text)))
        assert [(e["action"], e["resource_id"]) for e in exported_events] == [
            (event["action"], event["resource_id"]) for event in audit["data"]
        ]
