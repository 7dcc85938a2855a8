"""The providers a deployment may name, and the declarative facts of each: the one home of
what is true of a provider outside its wire translation.

`Provider` is the type of `Deployment.provider`, so a typo (`anthropc`) is refused when the
config file loads, at `tollway apply` and by the admin API, naming the allowed values.
`FACTS` answers every provider-specific question the services ask: which transport the router
sends the call through, the Entra scope it asks tokens for, the name on tracing spans, whether
it may be reached on Azure AI Foundry, takes OAuth tokens, takes per-request tenancy, which
endpoints it serves, natively or by translation, and what each model family can do (images,
tools, thinking, structured outputs) when a deployment declares nothing. The router's
`tollway_router.providers.REGISTRY` pairs each provider with its adapter (the pure
translation); nothing else names a provider (guarded by `tests/unit/test_layout.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

from tollway_common.contract import Capability, Endpoint

_OPENAI_ENDPOINTS = frozenset(
    {Endpoint.CHAT_COMPLETIONS, Endpoint.COMPLETIONS, Endpoint.EMBEDDINGS}
)
# What Azure OpenAI deployments of image and audio models serve (Azure has no image
# variations); OpenAI serves all of them.
_AZURE_MEDIA_ENDPOINTS = frozenset(
    {
        Endpoint.IMAGES_GENERATIONS,
        Endpoint.IMAGES_EDITS,
        Endpoint.AUDIO_TRANSCRIPTIONS,
        Endpoint.AUDIO_TRANSLATIONS,
        Endpoint.AUDIO_SPEECH,
    }
)
_OPENAI_MEDIA_ENDPOINTS = _AZURE_MEDIA_ENDPOINTS | {Endpoint.IMAGES_VARIATIONS}
# An endpoint a provider lacks natively is still served, translated, by a provider that serves
# the endpoint named here: the router's `dialects/` turns the request into that endpoint's
# request and its answer back (Anthropic Messages, OpenAI Responses over OpenAI chat).
TRANSLATED_OVER: dict[Endpoint, Endpoint] = {
    Endpoint.MESSAGES: Endpoint.CHAT_COMPLETIONS,
    Endpoint.RESPONSES: Endpoint.CHAT_COMPLETIONS,
}

# What a model family can do, by model-name glob (lowercase, first match wins; a name may carry
# a cloud's prefix, so each glob may start anywhere in it). A name no row knows can do
# everything, as the router treated every deployment before capabilities existed: an operator
# declares what a local or unlisted model cannot (`Deployment.capabilities`). Sources: the
# OpenAI and Anthropic model pages; Claude's thinking rows agree with the router's
# `providers/anthropic/capabilities.py` (tested), and its structured outputs on chat are served
# natively or through a forced tool, so every tool-taking Claude has them.
Families = tuple[tuple[str, frozenset[Capability]], ...]
EVERYTHING = frozenset(Capability)
_VISION, _TOOLS, _THINKING, _SCHEMA = (
    Capability.VISION,
    Capability.TOOLS,
    Capability.THINKING,
    Capability.STRUCTURED_OUTPUTS,
)
_OPENAI_FAMILIES: Families = (
    ("*embedding*", frozenset()),
    ("gpt-3.5*", frozenset({_TOOLS})),
    ("gpt-35*", frozenset({_TOOLS})),  # Azure OpenAI spells it so
    ("gpt-4o*", frozenset({_VISION, _TOOLS, _SCHEMA})),
    ("gpt-4.1*", frozenset({_VISION, _TOOLS, _SCHEMA})),
    ("gpt-4.5*", frozenset({_VISION, _TOOLS, _SCHEMA})),
    ("gpt-4-turbo*", frozenset({_VISION, _TOOLS})),
    ("gpt-4*", frozenset({_TOOLS})),
    ("gpt-5*-chat*", frozenset({_VISION, _TOOLS, _SCHEMA})),
    ("o1-mini*", frozenset({_THINKING})),
    ("o1-preview*", frozenset({_THINKING})),
    ("o3-mini*", frozenset({_TOOLS, _THINKING, _SCHEMA})),
)
_CLAUDE_FAMILIES: Families = (
    ("claude-3-7-sonnet*", EVERYTHING),
    ("claude-3-*", frozenset({_VISION, _TOOLS, _SCHEMA})),
)


def family_capabilities(families: Families, model: str) -> frozenset[Capability]:
    name = model.lower()
    for pattern, found in families:
        if fnmatchcase(name, f"*{pattern}"):
            return found
    return EVERYTHING


class Provider(StrEnum):
    """The `provider` of a deployment; the value is what config files and KV records spell."""

    OPENAI = "openai"
    AZURE_OPENAI = "azure_openai"
    ANTHROPIC = "anthropic"
    FAKE = "fake"


class Transport(StrEnum):
    """How the router's upstream client reaches a provider."""

    HTTP = "http"
    ANTHROPIC_SDK = "anthropic_sdk"
    IN_PROCESS = "in_process"


class OAuth(StrEnum):
    """Whether a deployment (or a credential of its pool) may carry `auth` (OAuth tokens)
    instead of an API key."""

    ALLOWED = "allowed"
    FOUNDRY_ONLY = "foundry_only"


@dataclass(frozen=True, slots=True)
class ProviderFacts:
    transport: Transport
    # gen_ai.provider.name's well-known value, or the configured name where none exists.
    tracing_name: str
    endpoints: frozenset[Endpoint]
    # The scope tokens are asked for when `auth.scope` is unset; None: `auth.scope` is required
    # for client-credentials grants (a refresh-token grant may leave it out). On a provider
    # also reachable on Foundry, only its Foundry deployments default to this scope.
    entra_scope: str | None = None
    oauth: OAuth = OAuth.ALLOWED
    # Reachable on Azure AI Foundry (`foundry_resource`, or a `*.services.ai.azure.com` base).
    foundry: bool = False
    # May serve models with `tenancy: per_request` (the tenant names a Foundry resource).
    takes_tenancy: bool = False
    # What its model families can do (`family_capabilities`); empty: every model everything.
    families: Families = ()
    # The provider's id in the built-in price catalog (genai-prices); None: never priced by it.
    catalog_id: str | None = None

    def capabilities(self, model: str) -> frozenset[Capability]:
        """What `model` can do on this provider when its deployment declares nothing."""
        return family_capabilities(self.families, model)

    def serves(self, endpoint: Endpoint) -> bool:
        """Natively (`endpoints`) or through a translation (`translates`)."""
        return endpoint in self.endpoints or self.translates(endpoint)

    def translates(self, endpoint: Endpoint) -> bool:
        """Served by translating to the endpoint `TRANSLATED_OVER` names, which this provider
        serves natively, because it does not serve `endpoint` itself."""
        over = TRANSLATED_OVER.get(endpoint)
        return endpoint not in self.endpoints and over is not None and over in self.endpoints


FACTS: dict[Provider, ProviderFacts] = {
    Provider.OPENAI: ProviderFacts(
        transport=Transport.HTTP,
        tracing_name="openai",
        # Azure OpenAI has no moderation endpoint (its content filters sit in every call).
        # Responses is passed through natively (with `store: false`: Tollway keeps them).
        # OpenAI has no rerank endpoint either: `rerank` is for the OpenAI-compatible servers
        # that offer one at `{api_base}/rerank` (vLLM, Jina, Cohere-compatible ones); OpenAI
        # itself answers it with a 404, which reaches the client as an upstream error.
        endpoints=_OPENAI_ENDPOINTS
        | _OPENAI_MEDIA_ENDPOINTS
        | {Endpoint.MODERATIONS, Endpoint.RERANK, Endpoint.RESPONSES},
        families=_OPENAI_FAMILIES,
        catalog_id="openai",
    ),
    Provider.AZURE_OPENAI: ProviderFacts(
        transport=Transport.HTTP,
        tracing_name="azure.ai.openai",
        endpoints=_OPENAI_ENDPOINTS | _AZURE_MEDIA_ENDPOINTS | {Endpoint.RESPONSES},
        entra_scope="https://cognitiveservices.azure.com/.default",
        families=_OPENAI_FAMILIES,
        catalog_id="azure",
    ),
    Provider.ANTHROPIC: ProviderFacts(
        transport=Transport.ANTHROPIC_SDK,
        tracing_name="anthropic",
        # The Messages endpoints are served natively (the client's body as it came).
        endpoints=frozenset(
            {
                Endpoint.CHAT_COMPLETIONS,
                Endpoint.COMPLETIONS,
                Endpoint.MESSAGES,
                Endpoint.MESSAGES_COUNT_TOKENS,
            }
        ),
        # Direct Anthropic takes OAuth access tokens (Claude accounts, as Claude Code signs in)
        # as `Authorization: Bearer` with the `oauth-2025-04-20` beta; Foundry takes Entra's.
        entra_scope="https://ai.azure.com/.default",
        oauth=OAuth.ALLOWED,
        foundry=True,
        takes_tenancy=True,
        families=_CLAUDE_FAMILIES,
        catalog_id="anthropic",
    ),
    Provider.FAKE: ProviderFacts(
        transport=Transport.IN_PROCESS, tracing_name="fake", endpoints=_OPENAI_ENDPOINTS
    ),
}


def providers_with(has: Callable[[ProviderFacts], bool]) -> str:
    """The providers whose facts pass `has`, spelled for an error message."""
    return " or ".join(provider.value for provider, facts in FACTS.items() if has(facts))
