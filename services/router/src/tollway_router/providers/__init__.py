"""Every provider's adapter (its pure translation), by the `Provider` a deployment names.

The declarative facts of each provider (transport, Entra scope, tracing name, tenancy,
endpoints) live beside the `Provider` enum in `tollway_common.providers`; this table adds only
the translation, which the router alone needs. An endpoint a provider serves in its own
dialect rather than translated from OpenAI's chat (Anthropic's Messages API on Anthropic,
OpenAI's Responses API on OpenAI and Azure OpenAI) has an adapter of its own in `BY_ENDPOINT`;
`adapter_for` picks.
"""

from __future__ import annotations

from typing import Any

from tollway_common.contract import Endpoint
from tollway_common.providers import Provider
from tollway_router.providers import anthropic, azure_openai, fake, openai
from tollway_router.providers.adapter import Adapter
from tollway_router.providers.anthropic.native import NATIVE_ADAPTER
from tollway_router.providers.openai import responses as openai_responses

REGISTRY: dict[Provider, Adapter[Any]] = {
    adapter.type: adapter
    for adapter in (openai.ADAPTER, azure_openai.ADAPTER, anthropic.ADAPTER, fake.ADAPTER)
}
BY_ENDPOINT: dict[tuple[Provider, Endpoint], Adapter[Any]] = {
    **{
        (NATIVE_ADAPTER.type, endpoint): NATIVE_ADAPTER
        for endpoint in (Endpoint.MESSAGES, Endpoint.MESSAGES_COUNT_TOKENS)
    },
    (Provider.ANTHROPIC, Endpoint.COMPLETIONS): anthropic.COMPLETIONS_ADAPTER,
    **{
        (adapter.type, Endpoint.RESPONSES): adapter
        for adapter in (openai_responses.ADAPTER, openai_responses.AZURE_ADAPTER)
    },
}


def adapter_for(provider: Provider, endpoint: Endpoint) -> Adapter[Any]:
    return BY_ENDPOINT.get((provider, endpoint)) or REGISTRY[provider]
