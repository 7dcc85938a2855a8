"""Keeps every OAuth refresh-token account of the catalog fresh in the background, so an idle
account's token is renewed ahead of expiry and a request never waits for a refresh it could
have avoided; an account whose refresh the token endpoint refuses is set aside as `invalid`
in the shared health records, with the reason, and routing skips it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator

from tollway_common import oauth_tokens
from tollway_common.control import Deployment, ModelAlias, OAuthRefreshToken
from tollway_common.errors import UpstreamAuthFailed, UpstreamUnavailable
from tollway_router.credentials.token_cache import TokenCache
from tollway_router.routing.health import HealthBoard

log = logging.getLogger(__name__)


def refresh_accounts(
    models: Iterable[ModelAlias],
) -> Iterator[tuple[ModelAlias, Deployment, str, OAuthRefreshToken]]:
    """(model, deployment, credential name, auth) of every refresh-token account in use."""
    for model in models:
        for deployment in model.deployments:
            for name, auth in oauth_tokens.refresh_accounts(deployment):
                yield model, deployment, name, auth


async def refresh_once(
    models: Iterable[ModelAlias], tokens: TokenCache, health: HealthBoard
) -> None:
    for model, deployment, credential, auth in refresh_accounts(models):
        scope = deployment.oauth_scope(auth) or ""
        try:
            await tokens.keep_fresh(auth, scope, deployment.name, credential)
        except UpstreamAuthFailed as exc:
            await health.mark_invalid(model, deployment, credential, exc.message)
        except UpstreamUnavailable as exc:
            log.warning("OAuth refresh failed; retrying", extra={"reason": exc.message})


async def keep_fresh(
    models: Callable[[], Iterable[ModelAlias]],
    tokens: TokenCache,
    health: HealthBoard,
    every_s: float,
) -> None:
    while True:
        try:
            await refresh_once(list(models()), tokens, health)
        except Exception:
            log.exception("OAuth refresh pass failed")
        await asyncio.sleep(every_s)
