"""The connect options NatsSettings turn into: who the service is and whether TLS is on."""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import SecretStr

from tollway_common.nats_client import credentials
from tollway_common.settings import NatsSettings


def test_no_identity_means_no_options() -> None:
    assert credentials(NatsSettings()) == {}


def test_a_user_and_password_are_passed_on() -> None:
    settings = NatsSettings(user="edge", password=SecretStr("pw"))
    assert credentials(settings) == {"user": "edge", "password": "pw"}


def test_a_password_file_is_read_at_connect(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-file\n")
    settings = NatsSettings(user="router", password_file=secret)
    assert credentials(settings) == {"user": "router", "password": "from-file"}


def test_creds_and_nkey_files_are_passed_on(tmp_path: Path) -> None:
    settings = NatsSettings(creds_file=tmp_path / "a.creds", nkey_seed_file=tmp_path / "seed")
    assert credentials(settings) == {
        "user_credentials": str(tmp_path / "a.creds"),
        "nkeys_seed": str(tmp_path / "seed"),
    }


def test_a_tls_url_turns_tls_on() -> None:
    options = credentials(NatsSettings(url="tls://nats:4222"))
    assert isinstance(options["tls"], ssl.SSLContext)
    assert options["tls"].verify_mode is ssl.CERT_REQUIRED
