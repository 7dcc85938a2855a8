"""Which adapter serves a request: the provider's own for what it serves natively, its chat
adapter wrapped in the translation for what it serves only by translation; and the guards that
keep that decision in one pure place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from tests.support.messages_over_chat import deployment_for, infer_for

from tollway_common.contract import Endpoint
from tollway_common.providers import FACTS, TRANSLATED_OVER, Provider
from tollway_router import dialects
from tollway_router.dialects.messages_adapter import TRANSLATORS, adapter_for
from tollway_router.providers import REGISTRY

ROUTER = Path(dialects.__file__).parents[1]
DIALECTS = Path(dialects.__file__).parent
NO_IO = {"httpx", "httpx2", "aiohttp", "nats", "redis", "asyncio", "anthropic", "socket"}
MESSAGES = {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}


def test_every_translated_endpoint_has_its_translator() -> None:
    assert set(TRANSLATORS) == set(TRANSLATED_OVER)


@pytest.mark.parametrize("provider", list(Provider))
def test_messages_are_served_by_every_provider_that_serves_chat(provider: Provider) -> None:
    facts = FACTS[provider]
    assert facts.serves(Endpoint.MESSAGES) == facts.serves(Endpoint.CHAT_COMPLETIONS)
    assert facts.translates(Endpoint.MESSAGES) == (Endpoint.MESSAGES not in facts.endpoints)
    assert not facts.translates(Endpoint.CHAT_COMPLETIONS)


@pytest.mark.parametrize(
    "provider", [p for p in Provider if FACTS[p].translates(Endpoint.MESSAGES)]
)
def test_a_messages_request_gets_the_chat_adapter_wrapped(provider: Provider) -> None:
    chat = REGISTRY[provider]
    adapter = adapter_for(deployment_for(provider), infer_for(MESSAGES))
    assert adapter is not chat
    assert (adapter.type, adapter.parse_error, adapter.auth_header) == (
        chat.type,
        chat.parse_error,
        chat.auth_header,
    )


@pytest.mark.parametrize("provider", list(Provider))
def test_a_chat_request_gets_the_providers_own_adapter(provider: Provider) -> None:
    infer = infer_for(MESSAGES).model_copy(update={"endpoint": Endpoint.CHAT_COMPLETIONS})
    assert adapter_for(deployment_for(provider), infer) is REGISTRY[provider]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(DIALECTS.glob("*.py")), ids=lambda p: p.name)
def test_dialects_do_no_io(path: Path) -> None:
    assert _imports(path) & NO_IO == set()


def test_adapters_are_looked_up_only_where_the_translation_is_decided() -> None:
    """A request never reaches a provider's adapter without passing `adapter_for` (the
    dialect's, which asks the provider table's own for the endpoints a provider serves in its
    own dialect)."""
    lookups = sorted(
        str(path.relative_to(ROUTER))
        for path in ROUTER.rglob("*.py")
        if "REGISTRY[" in path.read_text()
    )
    assert lookups == ["dialects/messages_adapter.py", "providers/__init__.py"]
