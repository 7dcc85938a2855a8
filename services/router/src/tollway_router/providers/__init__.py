"""Every provider adapter, by the `provider` name a deployment uses."""

from __future__ import annotations

from typing import Any

from tollway_router.providers import anthropic, azure_openai, fake, openai
from tollway_router.providers.adapter import Adapter

REGISTRY: dict[str, Adapter[Any]] = {
    adapter.type: adapter
    for adapter in (openai.ADAPTER, azure_openai.ADAPTER, anthropic.ADAPTER, fake.ADAPTER)
}
