"""Deployment health as the routers share it (NATS KV `tollway_health`), mirrored for the UI
and the API, and the operator's switch: disable a deployment (or one credential of its pool)
or enable it again.

An operator's "disabled" is written with `operator=True`, which routers never overwrite
(ADR 0009). Enabling writes an active record with `last_used_ms` set to now, so a router's
idle sweep starts its clock afresh instead of switching the deployment off again at once.
Every switch is audited like any control-plane change.

OAuth accounts' token health (expiry, last refresh, last failure and why) is read from the
routers' `tollway_oauth_health` bucket, never from the tokens' own; `counts` sums deployments,
pool credentials and OAuth accounts per state for the API, the models page and alarms.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue

from tollway_admin.audit import AuditLog
from tollway_common import contract, nats_client, oauth_tokens
from tollway_common.contract import AuditActor, DeploymentHealth, HealthState
from tollway_common.control import ModelAlias
from tollway_common.errors import InvalidRequest, NotFound
from tollway_common.kv_mirror import KvMirror
from tollway_common.oauth_tokens import TokenHealth, TokenState

OPERATOR_STATES = frozenset({HealthState.ACTIVE, HealthState.INACTIVE})


@dataclass(frozen=True, slots=True)
class AccountHealth:
    """One OAuth refresh-token account of a deployment (`credential` "" for the deployment's
    own `auth`) and its token health (a fresh record when no router has reported yet)."""

    deployment: str
    credential: str
    health: TokenHealth

    def view(self) -> dict[str, Any]:
        fields = self.health.model_dump(mode="json", exclude={"account"})
        return {**fields, "deployment": self.deployment, "credential": self.credential}


def _state_now(record: DeploymentHealth | None, now_ms: int) -> str:
    if record is None:
        return HealthState.ACTIVE.value
    if record.state is HealthState.RATE_LIMITED and record.until_ms <= now_ms:
        return HealthState.ACTIVE.value
    return record.state.value


class HealthBoard:
    def __init__(self, kv: KeyValue, audit: AuditLog, tokens: KeyValue | None = None) -> None:
        self._kv = kv
        self._audit = audit
        self.mirror = KvMirror(kv, contract.decode_deployment_health)
        self.tokens = (
            KvMirror(tokens, oauth_tokens.decode_token_health) if tokens is not None else None
        )

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int) -> HealthBoard:
        kv = await nats_client.ensure_kv(js, contract.KV_HEALTH, replicas)
        tokens = await nats_client.ensure_kv(js, contract.KV_OAUTH_HEALTH, replicas)
        board = cls(kv, AuditLog(js), tokens)
        await board.mirror.start()
        assert board.tokens is not None
        await board.tokens.start()
        return board

    async def close(self) -> None:
        await self.mirror.stop()
        if self.tokens is not None:
            await self.tokens.stop()

    def accounts(self, model: ModelAlias) -> list[AccountHealth]:
        """The token health of each OAuth refresh-token account of `model`."""
        reported = self.tokens.items if self.tokens is not None else {}
        found: list[AccountHealth] = []
        for deployment in model.deployments:
            for name, auth in oauth_tokens.refresh_accounts(deployment):
                key = oauth_tokens.account_key(auth, deployment.oauth_scope(auth))
                health = reported.get(key) or TokenHealth(account=key)
                found.append(AccountHealth(deployment.name, name, health))
        return found

    def counts(self, models: list[ModelAlias], now_ms: int) -> dict[str, dict[str, int]]:
        """How many deployments, pool credentials and OAuth accounts are in each state; a
        rate limit that ran out counts as active (the next request probes it)."""
        counted: dict[str, dict[str, int]] = {
            "deployments": {state.value: 0 for state in HealthState},
            "credentials": {state.value: 0 for state in HealthState},
            "oauth_accounts": {state.value: 0 for state in TokenState},
        }
        for model in models:
            for deployment in model.deployments:
                level = self.record(model.name, deployment.name)
                counted["deployments"][_state_now(level, now_ms)] += 1
                for credential in deployment.credentials:
                    own = self.record(model.name, deployment.name, credential.name)
                    counted["credentials"][_state_now(own, now_ms)] += 1
            for account in self.accounts(model):
                counted["oauth_accounts"][account.health.state.value] += 1
        return counted

    def record(self, alias: str, deployment: str, credential: str = "") -> DeploymentHealth | None:
        return self.mirror.items.get(contract.health_key(alias, deployment, credential))

    def states(self, model: ModelAlias) -> list[DeploymentHealth]:
        """One record per deployment of `model` (active when nobody wrote one), followed by
        each of its credentials that has a record of its own."""
        found: list[DeploymentHealth] = []
        for deployment in model.deployments:
            record = self.record(model.name, deployment.name)
            found.append(record or DeploymentHealth(alias=model.name, deployment=deployment.name))
            for credential in deployment.credentials:
                own = self.record(model.name, deployment.name, credential.name)
                if own is not None:
                    found.append(own)
        return found

    def unhealthy(self, models: list[ModelAlias], now_ms: int) -> list[DeploymentHealth]:
        """Records of existing deployments that are not serving now (an alarm each)."""
        return [
            record
            for model in models
            for record in self.states(model)
            if record.state is not HealthState.ACTIVE
            and not (record.state is HealthState.RATE_LIMITED and record.until_ms <= now_ms)
        ]

    async def switch(
        self,
        model: ModelAlias,
        deployment: str,
        state: HealthState,
        actor: AuditActor,
        *,
        reason: str = "",
        credential: str = "",
    ) -> DeploymentHealth:
        """An operator turns a deployment (or one credential) off or back on."""
        if state not in OPERATOR_STATES:
            raise InvalidRequest(
                f"An operator sets 'active' or 'inactive', not '{state}'; routers record "
                "rate limits and rejected credentials themselves.",
                param="state",
            )
        target = next((d for d in model.deployments if d.name == deployment), None)
        if target is None:
            raise NotFound(f"The model '{model.name}' has no deployment '{deployment}'.")
        if credential and credential not in {c.name for c in target.credentials}:
            raise NotFound(f"The deployment '{deployment}' has no credential '{credential}'.")
        now_ms = int(time.time() * 1000)
        disabled = state is HealthState.INACTIVE
        record = DeploymentHealth(
            alias=model.name,
            deployment=deployment,
            credential=credential,
            state=state,
            reason=reason or ("disabled by an operator" if disabled else "enabled by an operator"),
            updated_at_ms=now_ms,
            updated_by=actor.id,
            operator=disabled,
            last_used_ms=0 if disabled else now_ms,
        )
        key = contract.health_key(model.name, deployment, credential)
        before = await self._current(key)
        revision = await self._kv.put(key, contract.encode(record))
        await self._audit.record(
            event_id=f"{contract.KV_HEALTH}-{revision}",
            actor=actor,
            action=f"deployment_health.{'disable' if disabled else 'enable'}",
            resource_type="deployment_health",
            resource_id="/".join(p for p in (model.name, deployment, credential) if p),
            before=before.model_dump(mode="json") if before is not None else None,
            after=record.model_dump(mode="json"),
        )
        # A lagging mirror only means the page shows the change a moment late.
        with contextlib.suppress(TimeoutError):
            await self.mirror.wait_for(revision)
        return record

    async def _current(self, key: str) -> DeploymentHealth | None:
        try:
            entry = await self._kv.get(key)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        return contract.decode_deployment_health(entry.value) if entry.value else None
