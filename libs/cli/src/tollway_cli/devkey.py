"""The development API key: from TOLLWAY_DEV_API_KEY, or made once and kept in the data folder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ENV_NAME = "TOLLWAY_DEV_API_KEY"


def dev_api_key(data_dir: Path) -> str:
    from_env = os.environ.get(ENV_NAME)
    if from_env:
        return from_env
    stored = data_dir / "dev-api-key"
    if stored.exists():
        return stored.read_text().strip()
    key = "sk-tollway-dev-" + secrets.token_urlsafe(24)
    stored.touch(mode=0o600)
    stored.write_text(key + "\n")
    return key
