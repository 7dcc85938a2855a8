"""Local secrets of the embedded gateway: the development API key, the admin token, the admin
session-signing secret, the client IP-hash salt and the key that seals OAuth tokens, each from
its environment variable, or made once and kept in the data folder."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

ENV_NAME = "TOLLWAY_DEV_API_KEY"
ADMIN_TOKEN_ENV = "TOLLWAY_ADMIN_TOKEN"
ADMIN_TOKEN_FILE = "admin-token"
SESSION_SECRET_ENV = "TOLLWAY_ADMIN_SESSION_SECRET"
CLIENT_IP_SALT_ENV = "TOLLWAY_EDGE_CLIENT_IP_SALT"
OAUTH_KEY_ENV = "TOLLWAY_ROUTER_OAUTH__ENCRYPTION_KEY"
OAUTH_KEY_FILE = "oauth-encryption-key"


def _local_secret(data_dir: Path, env_name: str, filename: str, prefix: str) -> str:
    from_env = os.environ.get(env_name)
    if from_env:
        return from_env
    stored = data_dir / filename
    if stored.exists():
        return stored.read_text().strip()
    value = prefix + secrets.token_urlsafe(24)
    stored.touch(mode=0o600)
    stored.write_text(value + "\n")
    return value


def dev_api_key(data_dir: Path) -> str:
    return _local_secret(data_dir, ENV_NAME, "dev-api-key", "sk-tollway-dev-")


def admin_token(data_dir: Path) -> str:
    return _local_secret(data_dir, ADMIN_TOKEN_ENV, ADMIN_TOKEN_FILE, "tw-admin-")


def admin_session_secret(data_dir: Path) -> str:
    return _local_secret(data_dir, SESSION_SECRET_ENV, "admin-session-secret", "")


def client_ip_salt(data_dir: Path) -> str:
    return _local_secret(data_dir, CLIENT_IP_SALT_ENV, "client-ip-salt", "")


def oauth_key_reference(data_dir: Path) -> str:
    """The router's OAuth encryption key setting: the operator's, or a reference to a Fernet
    key (url-safe base64 of 32 random bytes) made once in the data folder."""
    from_env = os.environ.get(OAUTH_KEY_ENV)
    if from_env:
        return from_env
    stored = data_dir / OAUTH_KEY_FILE
    if not stored.exists():
        stored.touch(mode=0o600)
        stored.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n")
    return f"file:{stored}"
