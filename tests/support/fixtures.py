"""Load recorded provider fixtures: tests/fixtures/providers/<provider>/<case>.<kind>."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).parents[1] / "fixtures" / "providers"


def path(provider: str, case: str, kind: str) -> Path:
    return ROOT / provider / f"{case}.{kind}"


def load_json(provider: str, case: str, kind: str) -> Any:
    return orjson.loads(path(provider, case, kind).read_bytes())


def load_bytes(provider: str, case: str, kind: str) -> bytes:
    return path(provider, case, kind).read_bytes()


def load_jsonl(provider: str, case: str, kind: str = "expected.jsonl") -> list[Any]:
    lines = path(provider, case, kind).read_bytes().splitlines()
    return [orjson.loads(line) for line in lines if line.strip()]
