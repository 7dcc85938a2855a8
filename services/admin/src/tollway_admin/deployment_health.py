"""Deployment health as the routers share it (NATS KV `tollway_health`), mirrored for the UI
and the API, and the operator's switch: disable a deployment (or one credential of its pool)
or enable it again.

An operator's "disabled" is written with `operator=True`, which routers never overwrite
(ADR 0009). Enabling writes an active record with `last_used_ms` set to now, so a router's
idle sweep starts its clock afresh instead of switching the deployment off again at once.
Every switch is audited like any control-plane change.
"""

from __future__ import annotations

import contextlib
import time

from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue

from tollway_admin.audit import AuditLog
from tollway_common import contract, nats_client
from tollway_common.contract import AuditActor, DeploymentHealth, HealthState
from tollway_common.control import ModelAlias
from tollway_common.errors import InvalidRequest, NotFound
from tollway_common.kv_mirror import KvMirror

OPERATOR_STATES = frozenset({HealthState.ACTIVE, HealthState.INACTIVE})


class HealthBoard:
    def __init__(self, kv: KeyValue, audit: AuditLog) -> None:
        self._kv = kv
        self._audit = audit
        self.mirror = KvMirror(kv, contract.decode_deployment_health)

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int) -> HealthBoard:
        kv = await nats_client.ensure_kv(js, contract.KV_HEALTH, replicas)
        board = cls(kv, AuditLog(js))
        await board.mirror.start()
        return board

    async def close(self) -> None:
        await self.mirror.stop()

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
