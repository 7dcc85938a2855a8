"""A small client of the admin API for the `tollway` command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from tollway_cli.devkey import ADMIN_TOKEN_ENV, ADMIN_TOKEN_FILE
from tollway_common.config_file import TollwayConfig
from tollway_common.control import hash_key
from tollway_common.secret_refs import SecretResolver

ADMIN_URL_ENV = "TOLLWAY_ADMIN_URL"
DEFAULT_ADMIN_URL = "http://127.0.0.1:8081"


class AdminError(Exception):
    """Admin could not be reached (`status` None) or answered with an error status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def default_token(data_dir: Path) -> str | None:
    """The token from the environment, else the one `tollway run` keeps in its data folder."""
    from_env = os.environ.get(ADMIN_TOKEN_ENV)
    if from_env:
        return from_env
    stored = data_dir / ADMIN_TOKEN_FILE
    return stored.read_text().strip() if stored.exists() else None


def with_hashed_keys(doc: TollwayConfig) -> TollwayConfig:
    """Resolve key secret references here and send only their hashes: a key never leaves the
    machine that holds it."""
    if "keys" not in doc.model_fields_set:
        return doc
    secrets = SecretResolver(ttl_s=0)
    keys = [
        key.model_copy(update={"secret": None, "key_hash": hash_key(secrets.resolve(key.secret))})
        if key.secret is not None
        else key
        for key in doc.keys
    ]
    return doc.model_copy(update={"keys": keys})


class AdminClient:
    def __init__(self, base_url: str, token: str | None) -> None:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=30)

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AdminError(f"cannot reach the admin API at {self._http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text
            raise AdminError(f"{response.status_code}: {message}", response.status_code)
        return response.json() if response.content else None
