from __future__ import annotations

from pathlib import Path

import pytest

from tollway_common.secret_refs import SecretNotFound, SecretResolver


def test_env_and_file_references_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLWAY_TEST_SECRET", "from-env")
    (tmp_path / "s").write_text("from-file\n")
    resolver = SecretResolver()
    assert resolver.resolve("env:TOLLWAY_TEST_SECRET") == "from-env"
    assert resolver.resolve(f"file:{tmp_path / 's'}") == "from-file"


def test_an_env_reference_reads_the_file_its_file_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Docker convention compose uses for generated secrets (TOLLWAY_DEV_API_KEY_FILE)."""
    (tmp_path / "key").write_text("sk-generated\n")
    monkeypatch.setenv("TOLLWAY_TEST_KEY_FILE", str(tmp_path / "key"))
    assert SecretResolver().resolve("env:TOLLWAY_TEST_KEY") == "sk-generated"
    monkeypatch.setenv("TOLLWAY_TEST_KEY", "sk-direct")
    assert SecretResolver().resolve("env:TOLLWAY_TEST_KEY") == "sk-direct", "the variable wins"


def test_missing_secrets_say_which(tmp_path: Path) -> None:
    resolver = SecretResolver()
    with pytest.raises(SecretNotFound, match="TOLLWAY_NOT_SET"):
        resolver.resolve("env:TOLLWAY_NOT_SET")
    with pytest.raises(SecretNotFound, match="cannot be read"):
        resolver.resolve(f"file:{tmp_path / 'absent'}")
    with pytest.raises(SecretNotFound, match="unknown secret reference scheme"):
        resolver.resolve("vault:kv/openai")


def test_values_are_cached_for_the_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLWAY_TEST_SECRET", "one")
    resolver = SecretResolver(ttl_s=3600)
    assert resolver.resolve("env:TOLLWAY_TEST_SECRET") == "one"
    monkeypatch.setenv("TOLLWAY_TEST_SECRET", "two")
    assert resolver.resolve("env:TOLLWAY_TEST_SECRET") == "one"
    assert SecretResolver(ttl_s=0).resolve("env:TOLLWAY_TEST_SECRET") == "two"
