"""Every provider's adapter (its pure translation), by the `Provider` a deployment names.

The declarative facts of each provider (transport, Entra scope, tracing name, tenancy,
endpoints) live beside the `Provider` enum in `tollway_common.providers`; this table adds only
the translation, which the router alone needs.
"""

from __future__ import annotations

from typing import Any

from tollway_common.providers import Provider
from tollway_router.providers import anthropic, azure_openai, fake, openai
from tollway_router.providers.adapter import Adapter

REGISTRY: dict[Provider, Adapter[Any]] = {
    adapter.type: adapter
    for adapter in (openai.ADAPTER, azure_openai.ADAPTER, anthropic.ADAPTER, fake.ADAPTER)
}
