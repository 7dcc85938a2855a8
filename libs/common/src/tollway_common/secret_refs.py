"""Resolve secret references (`env:NAME`, `file:/path`) to their values, with a small cache.

Only references travel through NATS KV and logs; values exist in the memory of the process
that needs them. Other stores (a vault) plug in as a `SecretSource` for their scheme.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol


class SecretNotFound(LookupError):
    pass


class SecretSource(Protocol):
    def read(self, locator: str) -> str: ...


class EnvSource:
    def read(self, locator: str) -> str:
        value = os.environ.get(locator)
        if value is None:
            raise SecretNotFound(f"environment variable {locator} is not set")
        return value


class FileSource:
    def read(self, locator: str) -> str:
        try:
            return Path(locator).read_text().strip()
        except OSError as exc:
            raise SecretNotFound(f"secret file {locator} cannot be read: {exc.strerror}") from exc


DEFAULT_SOURCES: Mapping[str, SecretSource] = {"env": EnvSource(), "file": FileSource()}


class SecretResolver:
    def __init__(
        self, sources: Mapping[str, SecretSource] = DEFAULT_SOURCES, ttl_s: float = 60.0
    ) -> None:
        self._sources = sources
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, str]] = {}

    def resolve(self, reference: str) -> str:
        now = time.monotonic()
        cached = self._cache.get(reference)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        scheme, sep, locator = reference.partition(":")
        source = self._sources.get(scheme)
        if not sep or source is None:
            raise SecretNotFound(f"unknown secret reference scheme in {reference!r}")
        value = source.read(locator)
        self._cache[reference] = (now, value)
        return value
