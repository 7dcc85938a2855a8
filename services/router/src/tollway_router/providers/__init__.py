"""Every provider adapter, by the `provider` name a deployment uses."""

from __future__ import annotations

from typing import Any

from tollway_router.adapter import Adapter
from tollway_router.providers import fake, openai

REGISTRY: dict[str, Adapter[Any]] = {
    adapter.type: adapter for adapter in (openai.ADAPTER, fake.ADAPTER)
}
