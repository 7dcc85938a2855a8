"""Deployment and credential health, shared by every router replica through NATS KV.

A deployment (or, with a credential pool, each credential) is active, inactive, rate-limited or
invalid (`contract.HealthState`). A router that meets a 429 or a rejected credential writes the
record, and every replica's mirror sees it within milliseconds, so one discovery spares the
others the same failure. When a cooldown ends (or an invalid credential has rested for
`invalid_probe_after_s`) one live request per router probes it: success writes it active again,
failure sets it aside once more, and the request itself moves on to a healthy deployment.
Operator records (`operator=True`, written by admin) are never overwritten by a router.

Circuit breakers are local to each router (`breaker.py`): they judge its own traffic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from tollway_common import contract
from tollway_common.contract import DeploymentHealth, HealthState
from tollway_common.control import Deployment, ModelAlias
from tollway_common.kv_mirror import KvMirror
from tollway_router.routing.breaker import Breaker
from tollway_router.routing.retries import UNHEALTHY, Failure

log = logging.getLogger(__name__)

# A record this router wrote shadows the mirror until the watch has delivered it (or, when the
# write failed, this long), so the next attempt sees it at once.
_LOCAL_SHADOW_S = 2.0
_LAST_USED_REFRESH_S = 60.0


@dataclass(frozen=True, slots=True)
class Availability:
    usable: bool
    state: HealthState = HealthState.ACTIVE
    probe: bool = False
    retry_after_s: float | None = None
    reason: str = ""


USABLE = Availability(usable=True)


def availability(
    record: DeploymentHealth | None, now_ms: int, invalid_probe_after_s: float
) -> Availability:
    """What one shared record allows now (pure)."""
    if record is None or record.state is HealthState.ACTIVE:
        return USABLE
    if record.state is HealthState.INACTIVE:
        return Availability(False, record.state, reason=record.reason or "inactive")
    if record.state is HealthState.RATE_LIMITED:
        if record.until_ms > now_ms:
            wait = (record.until_ms - now_ms) / 1000
            return Availability(False, record.state, retry_after_s=wait, reason=record.reason)
        return Availability(True, record.state, probe=True, reason=record.reason)
    rest_until = record.updated_at_ms + invalid_probe_after_s * 1000
    if rest_until > now_ms:
        wait = (rest_until - now_ms) / 1000
        return Availability(False, record.state, retry_after_s=wait, reason=record.reason)
    return Availability(True, record.state, probe=True, reason=record.reason)


@dataclass(frozen=True, slots=True)
class Claim:
    """One attempt's hold on a deployment and credential, given back by `HealthBoard.settle`."""

    alias: str
    deployment: Deployment
    credential: str
    key: str
    probe: bool


class HealthBoard:
    def __init__(
        self,
        kv: KeyValue,
        router_id: str,
        invalid_probe_after_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._kv = kv
        self._router_id = router_id
        self._invalid_probe_after_s = invalid_probe_after_s
        self._clock = clock
        self.mirror = KvMirror(kv, contract.decode_deployment_health)
        # key -> (record, written at, KV revision of the write or None if it failed)
        self._local: dict[str, tuple[DeploymentHealth, float, int | None]] = {}
        self._probing: set[str] = set()
        self._breakers: dict[str, Breaker] = {}
        self._keys: dict[tuple[str, str, str], str] = {}

    async def start(self) -> None:
        await self.mirror.start()

    async def stop(self) -> None:
        await self.mirror.stop()

    def key(self, alias: str, deployment: str, credential: str = "") -> str:
        cache_key = (alias, deployment, credential)
        key = self._keys.get(cache_key)
        if key is None:
            key = self._keys[cache_key] = contract.health_key(alias, deployment, credential)
        return key

    def record(self, key: str) -> DeploymentHealth | None:
        local = self._local.get(key)
        if local is not None:
            record, written_at, revision = local
            delivered = revision is not None and self.mirror.revision >= revision
            if not delivered and self._clock() - written_at < _LOCAL_SHADOW_S:
                return record
            del self._local[key]
        return self.mirror.items.get(key)

    def check(self, model: ModelAlias, deployment: Deployment, credential: str) -> Availability:
        """May `credential` ("" for a deployment without a pool) take a request now? Pure read:
        nothing is reserved until `claim`."""
        now = self._clock()
        now_ms = int(now * 1000)
        found = availability(
            self.record(self.key(model.name, deployment.name)),
            now_ms,
            self._invalid_probe_after_s,
        )
        if found.usable and credential:
            own = availability(
                self.record(self.key(model.name, deployment.name, credential)),
                now_ms,
                self._invalid_probe_after_s,
            )
            if not own.usable or own.probe:
                found = own
        if not found.usable:
            return found
        if found.probe and self.key(model.name, deployment.name, credential) in self._probing:
            return Availability(False, found.state, retry_after_s=1.0, reason="a probe is running")
        breaker = self._breakers.get(deployment.name)
        if breaker is not None and not breaker.would_allow(now):
            return Availability(
                False,
                found.state,
                retry_after_s=max(breaker.reopens_in(now), 1.0),
                reason="its circuit breaker is open after repeated failures",
            )
        return found

    def claim(
        self, model: ModelAlias, deployment: Deployment, credential: str, probe: bool
    ) -> Claim:
        """Reserve the attempt `check` allowed: a probe slot, a half-open breaker's one call."""
        breaker = self._breakers.get(deployment.name)
        if breaker is None:
            breaker = self._breakers[deployment.name] = Breaker(model.circuit_breaker)
        breaker.policy = model.circuit_breaker
        breaker.allow(self._clock())
        # Probe slots are per credential; the deployment-level record is probed through them.
        key = self.key(model.name, deployment.name, credential)
        if probe:
            self._probing.add(key)
        return Claim(model.name, deployment, credential, key, probe)

    def release(self, claim: Claim) -> None:
        """The attempt ended without a verdict (the client left): free what it held."""
        self._probing.discard(claim.key)
        breaker = self._breakers.get(claim.deployment.name)
        if breaker is not None:
            breaker.release()

    async def settle(
        self, claim: Claim, failure: Failure | None, retry_after_s: float | None = None
    ) -> None:
        """Record how the attempt went (`failure` None is a success) and share what others
        should know: a 429, a rejected credential, a recovery."""
        now = self._clock()
        self._probing.discard(claim.key)
        breaker = self._breakers.get(claim.deployment.name)
        if breaker is not None:
            breaker.record(failure not in UNHEALTHY, now)
        key = self._failure_key(claim)
        if failure is Failure.RATE_LIMITED:
            wait = retry_after_s if retry_after_s is not None else claim.deployment.cooldown_s
            if retry_after_s is not None:
                reason = f"the upstream answered 429 with Retry-After {wait:g} s"
            else:
                reason = f"the upstream answered 429; cooling down for {wait:g} s"
            until_ms = int((now + wait) * 1000)
            await self._write(key, claim, HealthState.RATE_LIMITED, reason, until_ms=until_ms)
        elif failure is Failure.AUTH:
            reason = "the upstream rejected the credential (401/403)"
            await self._write(key, claim, HealthState.INVALID, reason)
        elif failure is None:
            await self._on_success(key, claim, now)

    async def mark_invalid(
        self, model: ModelAlias, deployment: Deployment, credential: str, reason: str
    ) -> None:
        """Set a credential (the deployment, without a pool) aside as invalid outside any
        request: its OAuth refresh was refused. A record already invalid is left as it is, so
        its probe clock keeps running."""
        key = self.key(model.name, deployment.name, credential)
        claim = Claim(model.name, deployment, credential, key, probe=False)
        key = self._failure_key(claim)
        record = self.record(key)
        if record is not None and (record.state is HealthState.INVALID or record.operator):
            return
        await self._write(key, claim, HealthState.INVALID, reason)

    def _failure_key(self, claim: Claim) -> str:
        # With a pool the credential is at fault; without one, the deployment is.
        if claim.deployment.credentials:
            return claim.key
        return self.key(claim.alias, claim.deployment.name)

    async def _on_success(self, key: str, claim: Claim, now: float) -> None:
        record = self.record(key)
        now_ms = int(now * 1000)
        if record is not None and record.state is not HealthState.ACTIVE and not record.operator:
            log.info(
                "deployment recovered",
                extra={"deployment": claim.deployment.name, "credential": claim.credential},
            )
            await self._write(key, claim, HealthState.ACTIVE, "recovered", last_used_ms=now_ms)
            return
        idle_after = claim.deployment.idle_inactive_after_s
        if idle_after is None:
            return
        level_key = self.key(claim.alias, claim.deployment.name)
        level = self.record(level_key)
        refresh_ms = min(_LAST_USED_REFRESH_S, idle_after / 4) * 1000
        if level is None or (
            level.state is HealthState.ACTIVE and now_ms - level.last_used_ms > refresh_ms
        ):
            await self._write(level_key, claim, HealthState.ACTIVE, "in use", last_used_ms=now_ms)

    async def sweep_idle(self, models: Iterable[ModelAlias]) -> None:
        """Mark deployments unused for their `idle_inactive_after_s` inactive (an operator
        re-enables them); start the clock on those never seen used."""
        now_ms = int(self._clock() * 1000)
        for model in models:
            for deployment in model.deployments:
                idle_after = deployment.idle_inactive_after_s
                if idle_after is None:
                    continue
                key = self.key(model.name, deployment.name)
                record = self.record(key)
                claim = Claim(model.name, deployment, "", key, probe=False)
                if record is None:
                    await self._write(
                        key, claim, HealthState.ACTIVE, "idle clock started", last_used_ms=now_ms
                    )
                elif (
                    record.state is HealthState.ACTIVE
                    and now_ms - record.last_used_ms > idle_after * 1000
                ):
                    reason = f"idle: not used for {idle_after:g} s"
                    await self._write(
                        key, claim, HealthState.INACTIVE, reason, last_used_ms=record.last_used_ms
                    )

    async def _write(
        self,
        key: str,
        claim: Claim,
        state: HealthState,
        reason: str,
        until_ms: int = 0,
        last_used_ms: int = 0,
    ) -> None:
        now = self._clock()
        level = key == self.key(claim.alias, claim.deployment.name)
        record = DeploymentHealth(
            alias=claim.alias,
            deployment=claim.deployment.name,
            credential="" if level else claim.credential,
            state=state,
            reason=reason,
            until_ms=until_ms,
            updated_at_ms=int(now * 1000),
            updated_by=self._router_id,
            last_used_ms=last_used_ms,
        )
        self._local[key] = (record, now, None)
        data = contract.encode(record)
        for _ in range(3):
            try:
                try:
                    entry = await self._kv.get(key)
                except (KeyNotFoundError, KeyDeletedError):
                    revision = await self._kv.create(key, data)
                else:
                    if entry.value and contract.decode_deployment_health(entry.value).operator:
                        self._local.pop(key, None)
                        return  # an operator's word stands
                    revision = await self._kv.update(key, data, last=entry.revision)
                if key in self._local:
                    self._local[key] = (record, now, revision)
                return
            except KeyWrongLastSequenceError:
                continue
            except Exception as exc:
                # Health is advice: a KV outage must not fail the request being served.
                log.warning("could not share deployment health: %s", exc)
                return
