"""Turn the API key a client presents into the Principal it stands for."""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers

from tollway_common.contract import Principal
from tollway_common.control import KeyRecord, hash_key
from tollway_common.errors import AuthenticationFailed, PermissionDenied
from tollway_edge.catalog import Catalog


def presented_key(headers: Headers) -> str | None:
    """The key from `Authorization: Bearer`, or from `api-key` / `x-api-key` for Azure and
    Anthropic clients."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return headers.get("api-key") or headers.get("x-api-key")


def authenticate(headers: Headers, catalog: Catalog) -> KeyRecord:
    key = presented_key(headers)
    if not key:
        raise AuthenticationFailed(
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
        )
    digest = hash_key(key)
    record = catalog.keys.items.get(digest)
    if record is None or not hmac.compare_digest(record.key_hash, digest):
        shown = f"{key[:6]}...{key[-4:]}" if len(key) > 16 else "(too short to show)"
        raise AuthenticationFailed(
            f"Incorrect API key provided: {shown}. Check the key, or ask your gateway operator "
            "for one."
        )
    return record


def authorize_model(record: KeyRecord, alias: str) -> None:
    allowed = record.policy.allow_models
    if allowed is not None and alias not in allowed:
        raise PermissionDenied(
            f"The key '{record.name}' may not use model '{alias}'; it may use: "
            f"{', '.join(allowed) or 'no models'}.",
            param="model",
        )


def principal_of(record: KeyRecord) -> Principal:
    return Principal(
        key_id=record.key_id,
        key_name=record.name,
        user_id=record.user_id,
        team_id=record.team_id,
        org_id=record.org_id,
    )
