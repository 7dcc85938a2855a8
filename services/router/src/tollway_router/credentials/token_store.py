"""OAuth refresh-token accounts shared by every router through NATS KV (`KV_OAUTH_TOKENS`),
sealed at rest (`token_seal.py`), refreshed by one router at a time with compare-and-set
writes (`token_ledger.py` decides each step), and their token health published for admin
and the metrics (`KV_OAUTH_HEALTH`).

A configured refresh token only seeds an account: once the endpoint rotated it, the rotated
one in KV is the live one, so a restarted router picks up where the chain stands, and a
reference naming a different token (the operator signed the account in again) starts a new
chain.
"""

from __future__ import annotations

import asyncio
import logging
import secrets as random
import time
from collections.abc import Awaitable, Callable

from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from tollway_common import oauth_tokens
from tollway_common.kv_mirror import KvMirror
from tollway_common.oauth_tokens import StoredTokens, TokenHealth
from tollway_common.secret_refs import SecretNotFound
from tollway_router.credentials import token_ledger
from tollway_router.credentials.token_grants import Token, TokenRefused, TokenUnavailable
from tollway_router.credentials.token_ledger import Move
from tollway_router.credentials.token_seal import (
    AccountSecrets,
    SealBroken,
    Sealer,
    seed_fingerprint,
)

log = logging.getLogger(__name__)

# How often a router waiting for another's refresh reads the record again.
_POLL_S = 0.05
Grant = Callable[[str], Awaitable[Token]]


class SharedTokens:
    def __init__(
        self,
        tokens: KeyValue,
        health: KeyValue,
        sealer: Sealer,
        router_id: str,
        lease_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`lease_s` bounds one refresh (the token request's timeout and a margin): a router
        that dies holding a lease delays the others that long at most."""
        self._tokens = tokens
        self._health_kv = health
        self._sealer = sealer
        # Unique per process, so a restarted router never mistakes an old lease for its own.
        self.owner = f"{router_id}/{random.token_hex(4)}"
        self._router_id = router_id
        self._lease_s = lease_s
        self._clock = clock
        self.health = KvMirror(health, oauth_tokens.decode_token_health)

    async def start(self) -> None:
        await self.health.start()

    async def stop(self) -> None:
        await self.health.stop()

    async def obtain(self, account: str, seed: str, grant: Grant, label: tuple[str, str]) -> Token:
        """A valid access token of `account` (seeded by the refresh token `seed`), refreshing
        it through `grant` (refresh token in, token out) when this router holds the lease.
        Raises TokenRefused (the chain is invalid) or TokenUnavailable."""
        fingerprint = seed_fingerprint(seed)
        deadline = self._clock() + self._lease_s + 5.0
        while True:
            now = self._clock()
            found = await self._read(account)
            record, revision = found if found is not None else (None, 0)
            opened = self._open(account, record)
            move = token_ledger.next_move(record, opened, fingerprint, self.owner, now)
            if move is Move.SEED or record is None or opened is None:
                sealed = self._sealer.seal(account, AccountSecrets(fingerprint, seed))
                await self._write(account, token_ledger.seeded(sealed), revision)
                continue
            if move is Move.USE:
                return token_ledger.usable_token(record, opened)
            if move is Move.REFUSED:
                raise TokenRefused(record.reason)
            if move is Move.BACK_OFF:
                raise TokenUnavailable(f"{record.reason} (retrying with backoff)")
            if move is Move.WAIT:
                if now > deadline:
                    raise TokenUnavailable("another router's token refresh did not finish")
                await asyncio.sleep(_POLL_S)
                continue
            lease = token_ledger.leased(record, self.owner, now, self._lease_s)
            lease_revision = await self._write(account, lease, revision)
            if lease_revision is None:
                continue  # another router wrote first: read what it wrote
            return await self._refresh(account, lease, lease_revision, opened, grant, label)

    async def _refresh(
        self,
        account: str,
        lease: StoredTokens,
        revision: int,
        opened: AccountSecrets,
        grant: Grant,
        label: tuple[str, str],
    ) -> Token:
        try:
            token = await grant(opened.refresh_token)
        except (TokenRefused, TokenUnavailable, SecretNotFound) as exc:
            refused = isinstance(exc, TokenRefused)
            reason = f"{'refused' if refused else 'failed'}: {exc}"
            after = token_ledger.failed(lease, reason, self._clock(), refused)
            await self._write(account, after, revision)
            await self._publish(account, after, label)
            raise
        rotated = token.refresh_token or opened.refresh_token
        secrets = AccountSecrets(opened.seed, rotated, token.value)
        after = token_ledger.refreshed(
            lease, self._sealer.seal(account, secrets), token, self._clock()
        )
        if await self._write(account, after, revision) is None:
            # Nobody may write over a lease; losing it means this refresh outlived it.
            log.error("an OAuth refresh outlived its lease; the rotated token may be lost")
        await self._publish(account, after, label)
        return token

    def _open(self, account: str, record: StoredTokens | None) -> AccountSecrets | None:
        if record is None:
            return None
        try:
            return self._sealer.open(account, record.sealed)
        except SealBroken as exc:
            log.warning("an OAuth account record is reseeded: %s", exc)
            return None

    async def _read(self, account: str) -> tuple[StoredTokens, int] | None:
        try:
            entry = await self._tokens.get(account)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        if not entry.value:
            return None
        return oauth_tokens.decode_stored_tokens(entry.value), entry.revision or 0

    async def _write(self, account: str, record: StoredTokens, revision: int) -> int | None:
        """Compare-and-set: the new revision, or None when the record changed since `revision`
        (0: it did not exist)."""
        data = oauth_tokens.encode(record)
        try:
            if revision == 0:
                return await self._tokens.create(account, data)
            return await self._tokens.update(account, data, last=revision)
        except KeyWrongLastSequenceError:
            return None

    async def _publish(self, account: str, record: StoredTokens, label: tuple[str, str]) -> None:
        health = TokenHealth(
            account=account,
            deployment=label[0],
            credential=label[1],
            state=record.state,
            expires_at=record.expires_at,
            last_refresh=record.last_refresh,
            last_failure=record.last_failure,
            failures=record.failures,
            reason=record.reason,
            updated_at=self._clock(),
            updated_by=self._router_id,
        )
        try:
            await self._health_kv.put(account, oauth_tokens.encode(health))
        except Exception as exc:
            # Health is for people and dashboards: a KV hiccup must not fail the refresh.
            log.warning("could not publish OAuth token health: %s", exc)
