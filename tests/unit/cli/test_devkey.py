"""The OAuth sealing key `make run` gives routers: made once in the data folder, a Fernet key,
kept private; the operator's own setting wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tollway_cli.devkey import OAUTH_KEY_ENV, oauth_key_reference


def test_a_key_is_made_once_private_and_opens_what_it_seals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(OAUTH_KEY_ENV, raising=False)
    reference = oauth_key_reference(tmp_path)
    assert reference == f"file:{tmp_path / 'oauth-encryption-key'}"
    assert oauth_key_reference(tmp_path) == reference
    stored = tmp_path / "oauth-encryption-key"
    assert stored.stat().st_mode & 0o077 == 0
    fernet = Fernet(stored.read_text().strip().encode())
    assert fernet.decrypt(fernet.encrypt(b"token")) == b"token"


def test_the_operators_setting_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OAUTH_KEY_ENV, "env:MY_KEY")
    assert oauth_key_reference(tmp_path) == "env:MY_KEY"
    assert not (tmp_path / "oauth-encryption-key").exists()
