"""Token checks and the JWKS cache of the OIDC verifier, against an issuer's keys handed over
in process: a slow or failing issuer is a held or failing fetch, time a clock the test moves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from tests.support.oidc_keys import AUDIENCE, Clock, FakeJwks, SigningKeys

from tollway_admin.settings import AdminSettings
from tollway_common.errors import AuthenticationFailed
from tollway_common.oidc import OidcSettings, OidcVerifier, TokenClaims
from tollway_edge.settings import EdgeSettings

ISSUER = "https://issuer.example"


@asynccontextmanager
async def _verifier(jwks: FakeJwks, clock: Clock, **settings: Any) -> AsyncIterator[OidcVerifier]:
    options: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, **settings}
    verifier = OidcVerifier(OidcSettings(**options), fetch_jwks=jwks, clock=clock)
    try:
        yield verifier
    finally:
        await verifier.close()


async def _until(condition: Callable[[], bool], turns: int = 1000) -> None:
    """Let the event loop run until `condition` holds; everything here is in process, so a
    condition still false after `turns` rounds never comes true."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never came true")


async def _settle() -> None:
    """Let every task started so far run as far as it can."""
    for _ in range(100):
        await asyncio.sleep(0)


@pytest.fixture
def keys() -> SigningKeys:
    return SigningKeys(ISSUER)


@pytest.mark.parametrize(
    ("settings", "prefix"), [(EdgeSettings, "TOLLWAY_EDGE"), (AdminSettings, "TOLLWAY_ADMIN")]
)
@pytest.mark.parametrize("audience", [None, "", " "])
def test_an_issuer_without_an_audience_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
    settings: type[BaseSettings],
    prefix: str,
    audience: str | None,
) -> None:
    monkeypatch.setenv(f"{prefix}_OIDC__ISSUER", ISSUER)
    if audience is not None:
        monkeypatch.setenv(f"{prefix}_OIDC__AUDIENCE", audience)
    with pytest.raises(ValidationError, match="OIDC with an issuer needs an audience"):
        settings()


async def test_any_audience_only_on_purpose_and_with_a_warning(
    keys: SigningKeys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tollway_common.oidc")
    settings = OidcSettings(issuer=ISSUER, allow_any_audience=True)
    verifier = OidcVerifier(settings, fetch_jwks=FakeJwks(keys), clock=Clock())
    try:
        claims = await verifier.verify(keys.token({}, aud="api://another-app"))
    finally:
        await verifier.close()
    assert claims.subject == "user-1"
    assert [r.getMessage() for r in caplog.records] == [
        f"OIDC tokens from {ISSUER} are accepted for any audience (allow_any_audience): a token "
        "the issuer minted for another application passes too. Set an audience."
    ]


async def test_a_token_for_another_audience_is_refused(keys: SigningKeys) -> None:
    async with _verifier(FakeJwks(keys), Clock()) as verifier:
        token = keys.token({"roles": ["admin"]}, aud="api://another-app")
        with pytest.raises(AuthenticationFailed, match="Audience doesn't match"):
            await verifier.verify(token)


async def test_a_valid_token_becomes_its_claims(keys: SigningKeys) -> None:
    async with _verifier(FakeJwks(keys), Clock()) as verifier:
        claims = await verifier.verify(keys.token({"team": "ml", "org": "acme", "roles": "a b"}))
    assert claims == TokenClaims(
        subject="user-1", user_id="user-1", team_id="ml", org_id="acme", roles=("a", "b")
    )


async def test_an_rs256_token_naming_an_ec_key_is_refused(keys: SigningKeys) -> None:
    keys.add_ec_key("ec-1")
    async with _verifier(FakeJwks(keys), Clock()) as verifier:
        with pytest.raises(AuthenticationFailed, match="does not match the key's algorithm"):
            await verifier.verify(keys.naming("ec-1", {}))


@pytest.mark.parametrize(
    ("claims", "settings", "empty"),
    [
        ({"sub": ""}, {}, "sub"),
        ({"sub": "  "}, {}, "sub"),
        ({}, {"user_claim": "oid"}, "oid"),
        ({"oid": ""}, {"user_claim": "oid"}, "oid"),
    ],
)
async def test_a_token_that_names_no_user_is_refused(
    keys: SigningKeys, claims: dict[str, Any], settings: dict[str, Any], empty: str
) -> None:
    async with _verifier(FakeJwks(keys), Clock(), **settings) as verifier:
        with pytest.raises(AuthenticationFailed, match=f"'{empty}' claim is empty"):
            await verifier.verify(keys.token({}, **claims))


async def test_a_stale_key_is_served_while_one_refresh_runs_behind(keys: SigningKeys) -> None:
    jwks, clock = FakeJwks(keys), Clock()
    async with _verifier(jwks, clock, jwks_ttl_s=60) as verifier:
        token = keys.token({})
        await verifier.verify(token)
        clock.now += 61
        jwks.hold()  # the issuer is slow now
        calls = [asyncio.ensure_future(verifier.verify(token)) for _ in range(5)]
        await _until(lambda: all(call.done() for call in calls))
        assert [call.result().subject for call in calls] == ["user-1"] * 5
        await _until(lambda: jwks.fetches >= 2)
        await _settle()
        assert jwks.fetches == 2, "one refresh for all five, started by the first"
        jwks.release()
        await _until(lambda: jwks.answered == 2)
        await verifier.verify(token)
        assert jwks.fetches == 2, "the refresh made the keys fresh again"


async def test_callers_of_a_new_key_id_share_one_fetch(keys: SigningKeys) -> None:
    jwks, clock = FakeJwks(keys), Clock()
    async with _verifier(jwks, clock) as verifier:
        await verifier.verify(keys.token({}))
        keys.rotate(keep_old=True)
        clock.now += 30
        jwks.hold()
        calls = [asyncio.ensure_future(verifier.verify(keys.token({}))) for _ in range(5)]
        await _until(lambda: jwks.fetches == 2)
        jwks.release()
        claims = await asyncio.gather(*calls)
    assert [c.subject for c in claims] == ["user-1"] * 5
    assert jwks.fetches == 2


async def test_a_failed_fetch_is_shared_and_backed_off(keys: SigningKeys) -> None:
    jwks, clock = FakeJwks(keys), Clock()
    jwks.error = aiohttp.ClientConnectionError("connection refused")
    async with _verifier(jwks, clock, jwks_backoff_s=5) as verifier:
        token = keys.token({})
        jwks.hold()
        calls = [asyncio.ensure_future(verifier.verify(token)) for _ in range(3)]
        await _until(lambda: jwks.fetches == 1)
        jwks.release()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert [str(o) for o in outcomes] == [
            "The token issuer's signing keys could not be fetched: connection refused."
        ] * 3
        clock.now += 4
        with pytest.raises(AuthenticationFailed, match="could not be fetched"):
            await verifier.verify(token)
        assert jwks.fetches == 1, "inside the back-off nobody waits on the issuer"
        jwks.error = None
        clock.now += 1
        assert (await verifier.verify(token)).subject == "user-1"
        assert jwks.fetches == 2


async def test_an_issuer_that_fails_leaves_the_cached_keys_in_use(keys: SigningKeys) -> None:
    jwks, clock = FakeJwks(keys), Clock()
    async with _verifier(jwks, clock, jwks_ttl_s=60, jwks_backoff_s=5) as verifier:
        token = keys.token({})
        await verifier.verify(token)
        jwks.error = TimeoutError()
        clock.now += 61
        assert (await verifier.verify(token)).subject == "user-1"
        await _until(lambda: jwks.answered == 2)
        clock.now += 4
        assert (await verifier.verify(token)).subject == "user-1"
        await _settle()
        assert jwks.fetches == 2, "the failed refresh is not tried again inside the back-off"
        clock.now += 1
        assert (await verifier.verify(token)).subject == "user-1"
        await _until(lambda: jwks.fetches == 3)


async def test_unknown_key_ids_fetch_at_most_once_per_window(keys: SigningKeys) -> None:
    jwks, clock = FakeJwks(keys), Clock()
    async with _verifier(jwks, clock, jwks_refresh_min_s=30) as verifier:
        await verifier.verify(keys.token({}))
        for step, kid in ((10, "forged-1"), (20, "forged-2"), (1, "forged-3")):
            clock.now += step
            with pytest.raises(AuthenticationFailed, match=f"key id '{kid}'"):
                await verifier.verify(keys.naming(kid, {}))
    assert jwks.fetches == 2, "one fetch at the start, one for the forged ids after 30 s"
