from __future__ import annotations

from tollway_cli.service_env import service_env
from tollway_common.secret_policy import SecretPolicy

ENVIRON = {
    "PATH": "/usr/bin",
    "HOME": "/home/u",
    "LC_ALL": "C.UTF-8",
    "OTEL_TRACES_EXPORTER": "otlp",
    "TOLLWAY_ADMIN_TOKEN": "admin-token",
    "TOLLWAY_EDGE_PORT": "8080",
    "TOLLWAY_ROUTER_MAX_INFLIGHT": "10",
    "TOLLWAY_METERING_CLICKHOUSE_DSN": "chdb://x",
    "TOLLWAY_SECRETS_DIR": "/srv/secrets",
    "TOLLWAY_UPSTREAM_OPENAI": "sk-upstream",
    "OPENAI_API_KEY": "sk-openai",
    "TOLLWAY_DEV_API_KEY": "sk-tollway-dev",
    "AWS_SECRET_ACCESS_KEY": "unrelated",
    "HTTPS_PROXY": "http://proxy:3128",
}
BASICS = {
    "PATH": "/usr/bin",
    "HOME": "/home/u",
    "LC_ALL": "C.UTF-8",
    "OTEL_TRACES_EXPORTER": "otlp",
}


def test_the_router_gets_its_settings_and_the_upstream_secrets_only() -> None:
    assert service_env("router", ENVIRON, SecretPolicy(dir="/srv/secrets")) == {
        **BASICS,
        "TOLLWAY_ROUTER_MAX_INFLIGHT": "10",
        "TOLLWAY_SECRETS_DIR": "/srv/secrets",
        "TOLLWAY_UPSTREAM_OPENAI": "sk-upstream",
        "OPENAI_API_KEY": "sk-openai",
        "HTTPS_PROXY": "http://proxy:3128",
    }


def test_the_edge_sees_no_secret_at_all() -> None:
    assert service_env("edge", ENVIRON, SecretPolicy()) == {**BASICS, "TOLLWAY_EDGE_PORT": "8080"}


def test_admin_gets_its_token_and_the_variables_its_config_keys_name() -> None:
    env = service_env("admin", ENVIRON, SecretPolicy(), ["TOLLWAY_DEV_API_KEY"])
    assert env == {
        **BASICS,
        "TOLLWAY_ADMIN_TOKEN": "admin-token",
        "TOLLWAY_SECRETS_DIR": "/srv/secrets",
        "TOLLWAY_DEV_API_KEY": "sk-tollway-dev",
    }


def test_metering_gets_its_settings_only() -> None:
    assert service_env("metering", ENVIRON, SecretPolicy()) == {
        **BASICS,
        "TOLLWAY_METERING_CLICKHOUSE_DSN": "chdb://x",
    }


def test_the_router_gets_the_variable_its_oauth_key_reference_names_and_no_other() -> None:
    environ = {
        **ENVIRON,
        "TOLLWAY_ROUTER_OAUTH__ENCRYPTION_KEY": "env:OAUTH_SEALING_KEY",
        "OAUTH_SEALING_KEY": "fernet-key",
        "OAUTH_SEALING_KEY_FILE": "/srv/secrets/key",
    }
    router = service_env("router", environ, SecretPolicy())
    assert router["OAUTH_SEALING_KEY"] == "fernet-key"
    assert router["OAUTH_SEALING_KEY_FILE"] == "/srv/secrets/key"
    assert "OAUTH_SEALING_KEY" not in service_env("edge", environ, SecretPolicy())
