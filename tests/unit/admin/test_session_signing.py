"""The admin UI's session-signing secret: configured (directly or as a file), never derived from
the admin token."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from tollway_admin.settings import AdminSettings
from tollway_admin.ui.app import session_secret

TOKEN = "tw-admin-known-0123456789"


@pytest.fixture(autouse=True)
def _no_tollway_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("TOLLWAY_"):
            monkeypatch.delenv(key)


def test_without_a_configured_secret_sessions_are_not_signed_with_the_token() -> None:
    settings = AdminSettings(token=SecretStr(TOKEN))
    derived = hmac.new(TOKEN.encode(), b"tollway-admin-session", hashlib.sha256).hexdigest()
    secrets = {session_secret(settings) for _ in range(2)}
    assert derived not in secrets
    assert TOKEN not in secrets
    assert len(secrets) == 2, "random per process, not a function of the token"


def test_the_secret_and_the_token_come_from_their_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "session").write_text("generated-session-secret\n")
    settings = AdminSettings(
        token_file=tmp_path / "token", session_secret_file=tmp_path / "session"
    )
    assert settings.admin_token() == TOKEN
    assert session_secret(settings) == "generated-session-secret"
    direct = AdminSettings(
        session_secret=SecretStr("from-helm"), session_secret_file=tmp_path / "session"
    )
    assert session_secret(direct) == "from-helm", "a value set directly wins over the file"
