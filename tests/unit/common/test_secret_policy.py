from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tollway_common.control import RESOURCE_NAME_PATTERN, SECRET_REF_PATTERN, Budget, Deployment
from tollway_common.secret_policy import SecretPolicy
from tollway_common.secret_refs import SecretRefused, SecretResolver


def test_the_admin_token_is_not_an_upstream_secret() -> None:
    refusal = SecretPolicy().refusal("env:TOLLWAY_ADMIN_TOKEN")
    assert refusal is not None
    assert "TOLLWAY_UPSTREAM_*" in refusal
    assert "OPENAI_API_KEY" in refusal


def test_default_allow_list_keeps_the_documented_names() -> None:
    policy = SecretPolicy()
    for reference in (
        "env:OPENAI_API_KEY",
        "env:ANTHROPIC_API_KEY",
        "env:TOLLWAY_UPSTREAM_OPENAI_A",
        "file:/run/secrets/openai",
    ):
        assert policy.refusal(reference) is None, reference


@pytest.mark.parametrize(
    "reference",
    [
        "file:/etc/passwd",
        "file:/run/secrets/../../etc/passwd",
        "file:/run/secrets",
        "file:relative",
        "vault:kv/openai",
        "env:PATH",
    ],
)
def test_references_outside_the_allow_list_are_refused(reference: str) -> None:
    assert SecretPolicy().refusal(reference) is not None


def test_allow_list_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLWAY_SECRETS_ENV_PREFIXES", "ACME_, LLM_")
    monkeypatch.setenv("TOLLWAY_SECRETS_ENV_NAMES", "ONE_KEY")
    monkeypatch.setenv("TOLLWAY_SECRETS_DIR", "")
    policy = SecretPolicy()
    assert policy.refusal("env:ACME_OPENAI") is None
    assert policy.refusal("env:ONE_KEY") is None
    assert policy.refusal("env:OPENAI_API_KEY") is not None
    assert policy.refusal("file:/run/secrets/openai") is not None


def test_an_empty_prefix_is_refused() -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        SecretPolicy(env_prefixes=("",))


def test_router_resolver_refuses_the_admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLWAY_ADMIN_TOKEN", "admin-secret")
    resolver = SecretResolver(policy=SecretPolicy())
    with pytest.raises(SecretRefused, match="not allowed"):
        resolver.resolve("env:TOLLWAY_ADMIN_TOKEN")


def test_router_resolver_refuses_a_symlink_out_of_the_directory(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (tmp_path / "outside").write_text("not for upstreams")
    (secrets / "link").symlink_to(tmp_path / "outside")
    (secrets / "key").write_text("upstream-key\n")
    resolver = SecretResolver(policy=SecretPolicy(dir=str(secrets)))
    assert resolver.resolve(f"file:{secrets / 'key'}") == "upstream-key"
    with pytest.raises(SecretRefused, match="outside"):
        resolver.resolve(f"file:{secrets / 'link'}")


def test_deployment_lists_every_reference_the_router_resolves() -> None:
    deployment = Deployment(
        name="d",
        provider="openai",
        model="m",
        api_key="env:OPENAI_API_KEY",
        headers={"x-org": "literal", "x-token": "env:TOLLWAY_UPSTREAM_ORG"},
    )
    assert deployment.secret_references() == [
        ("api_key", "env:OPENAI_API_KEY"),
        ("headers.x-token", "env:TOLLWAY_UPSTREAM_ORG"),
    ]
    assert deployment.redacted_headers() == {
        "x-org": "[redacted]",
        "x-token": "env:TOLLWAY_UPSTREAM_ORG",
    }


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://h/", "ftp://h/", "no-scheme"])
def test_api_base_and_webhook_urls_are_http_only(url: str) -> None:
    with pytest.raises(ValidationError, match="http"):
        Deployment(name="d", provider="openai", model="m", api_base=url)
    with pytest.raises(ValidationError, match="http"):
        Budget(budget_id="b", amount=1, webhook_url=url)


def test_validation_patterns_do_not_let_a_trailing_newline_through() -> None:
    assert RESOURCE_NAME_PATTERN.match("name\n") is None
    assert SECRET_REF_PATTERN.match("env:OPENAI_API_KEY\n") is None
    with pytest.raises(ValidationError, match="foundry_resource"):
        Deployment(name="d", provider="anthropic", model="m", foundry_resource="name\n")
