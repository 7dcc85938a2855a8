"""Resolve secret references (`env:NAME`, `file:/path`) to their values, with a small cache.

Only references travel through NATS KV and logs; values exist in the memory of the process
that needs them. Other stores (a vault) plug in as a `SecretSource` for their scheme. With a
`SecretPolicy` (the router's upstream credentials) only allow-listed references resolve.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from tollway_common.secret_policy import SecretPolicy


class SecretNotFound(LookupError):
    pass


class SecretRefused(SecretNotFound):
    """The reference names a secret outside the allow-list."""


class SecretSource(Protocol):
    def read(self, locator: str) -> str: ...


class EnvSource:
    """`env:NAME` is the variable NAME or, when it is unset, the file `NAME_FILE` names (the
    Docker convention: compose hands generated secrets over as files)."""

    def read(self, locator: str) -> str:
        value = os.environ.get(locator)
        if value is not None:
            return value
        path = os.environ.get(f"{locator}_FILE")
        if path:
            return FileSource().read(path)
        raise SecretNotFound(f"environment variable {locator} is not set")


class FileSource:
    def read(self, locator: str) -> str:
        try:
            return Path(locator).read_text().strip()
        except OSError as exc:
            raise SecretNotFound(f"secret file {locator} cannot be read: {exc.strerror}") from exc


DEFAULT_SOURCES: Mapping[str, SecretSource] = {"env": EnvSource(), "file": FileSource()}


class SecretResolver:
    def __init__(
        self,
        sources: Mapping[str, SecretSource] = DEFAULT_SOURCES,
        ttl_s: float = 60.0,
        policy: SecretPolicy | None = None,
    ) -> None:
        """`policy` None resolves any reference: only for secrets an operator's own config file
        names (bootstrap keys), never for records written through the admin API."""
        self._sources = sources
        self._policy = policy
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, str]] = {}

    def resolve(self, reference: str) -> str:
        now = time.monotonic()
        cached = self._cache.get(reference)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        scheme, sep, locator = reference.partition(":")
        if self._policy is not None:
            _check(self._policy, reference, scheme, locator)
        source = self._sources.get(scheme)
        if not sep or source is None:
            raise SecretNotFound(f"unknown secret reference scheme in {reference!r}")
        value = source.read(locator)
        self._cache[reference] = (now, value)
        return value


def _check(policy: SecretPolicy, reference: str, scheme: str, locator: str) -> None:
    refusal = policy.refusal(reference)
    if refusal is None and scheme == "file":
        # A symlink inside the directory must not lead out of it.
        real = os.path.realpath(locator)
        inside = os.path.realpath(policy.dir)
        if os.path.commonpath([real, inside]) != inside:
            refusal = f"the secret file {locator} leads outside {policy.dir}"
    if refusal is not None:
        raise SecretRefused(refusal)
