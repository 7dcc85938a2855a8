from __future__ import annotations

from pathlib import Path

import pytest

from tollway_common.config_file import ConfigError, load_config, parse_config

REPO = Path(__file__).parents[3]


def test_the_shipped_config_is_valid() -> None:
    config = load_config(REPO / "config" / "tollway.yaml")
    assert [m.name for m in config.models] == ["tollway-demo"]
    assert config.keys[0].secret == "env:TOLLWAY_DEV_API_KEY"


def test_plaintext_upstream_key_is_refused() -> None:
    text = """
models:
  - name: m
    deployments: [{name: d, provider: openai, model: x, api_key: sk-live-123}]
"""
    with pytest.raises(ConfigError, match="secret reference"):
        parse_config(text)


def test_plaintext_client_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="never the key itself"):
        parse_config("keys: [{name: k, secret: sk-123}]")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "models: [{name: m, deployments: [{name: d, provider: fake, model: x}]},"
            " {name: m, deployments: [{name: e, provider: fake, model: x}]}]",
            "model name 'm' is defined twice",
        ),
        ("models: [{name: m, deployments: []}]", "at least 1"),
        ("keys: [{name: k, secret: 'env:K', models: [ghost]}]", "unknown models: ghost"),
        ("modelz: []", "Extra inputs"),
        ("models: [", "not valid YAML"),
    ],
)
def test_invalid_configs_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


ALLOWED_PROVIDERS = "'openai', 'azure_openai', 'anthropic' or 'fake'"


def test_a_misspelt_provider_is_refused_at_load_naming_the_allowed_ones(tmp_path: Path) -> None:
    path = tmp_path / "tollway.yaml"
    path.write_text(
        "models: [{name: m, deployments: [{name: d, provider: anthropc, model: claude}]}]"
    )
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    message = str(refused.value)
    assert "models.0.deployments.0.provider" in message
    assert f"Input should be {ALLOWED_PROVIDERS}" in message
    assert "anthropc" in message
