"""Which deployment and credential the next attempt goes to, or why none can take it.

Deployments with weight 0, without the endpoint, without a capability the request's content
needs (`RequestFacts.needs`: images, tools, thinking, structured outputs), too small for the
prompt, switched off, cooling down, with every credential rejected or with an open circuit are
left out; among the rest, one
not yet tried by this request is preferred, and the alias's strategy picks (`selection.py`).
When nothing is left, `Unavailable` says why, in the error the client should see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tollway_common.contract import Capability, HealthState, InferRequest, RequestFacts
from tollway_common.control import Deployment, ModelAlias, RoutingStrategy, UpstreamAuth
from tollway_common.errors import (
    ContextLengthExceeded,
    InvalidRequest,
    TollwayError,
    UpstreamAuthFailed,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from tollway_common.providers import FACTS
from tollway_router.dialects.messages_adapter import adapter_for
from tollway_router.providers.adapter import Adapter
from tollway_router.routing.health import Availability, HealthBoard
from tollway_router.routing.load import LoadBoard
from tollway_router.routing.selection import RequestSize, Selector


@dataclass(frozen=True, slots=True)
class Choice:
    deployment: Deployment
    adapter: Adapter[Any]
    credential: str
    api_key: str | None
    probe: bool
    # The OAuth account of the chosen credential (or the deployment's own `auth`).
    auth: UpstreamAuth | None = None


@dataclass
class Unavailable:
    """No deployment of the alias can take the request now, and why."""

    unsupported: list[Deployment] = field(default_factory=list)
    # Each deployment left out for lacking what the request needs, with what it lacks.
    incapable: list[tuple[Deployment, tuple[Capability, ...]]] = field(default_factory=list)
    too_small: list[Deployment] = field(default_factory=list)
    set_aside: list[tuple[Deployment, Availability]] = field(default_factory=list)
    weightless: list[Deployment] = field(default_factory=list)
    size: RequestSize | None = None
    endpoint: str = ""

    @property
    def soonest_s(self) -> float | None:
        """When the first deployment set aside may be tried again, if any will be."""
        waits = [a.retry_after_s for _, a in self.set_aside if a.retry_after_s is not None]
        return min(waits) if waits else None

    def error(self, model: ModelAlias, last: TollwayError | None) -> TollwayError:
        if self.set_aside:
            return self._set_aside_error(model, last)
        if last is not None:
            return last
        if self.too_small:
            return self._too_small_error(model)
        if self.incapable:
            return self._incapable_error(model)
        if self.unsupported and not self.weightless:
            d = self.unsupported[0]
            return InvalidRequest(
                f"Model '{model.name}' is served by provider '{d.provider}', which has no "
                f"{self.endpoint} endpoint; use a model whose provider offers it.",
                param="model",
                code="unsupported_endpoint",
            )
        return UpstreamUnavailable(
            f"Model '{model.name}' has no deployment with a weight above zero."
        )

    def _set_aside_error(self, model: ModelAlias, last: TollwayError | None) -> TollwayError:
        reasons = "; ".join(f"'{d.name}': {a.reason}" for d, a in self.set_aside)
        # Switched-off deployments say nothing about when to come back; the others do.
        waiting = [a for _, a in self.set_aside if a.state is not HealthState.INACTIVE]
        if not waiting:
            return UpstreamUnavailable(
                f"Every deployment of model '{model.name}' is switched off ({reasons})."
            )
        states = {a.state for a in waiting}
        waits = [a.retry_after_s for a in waiting if a.retry_after_s is not None]
        wait = min(waits) if waits else None
        message = f"No deployment of model '{model.name}' can take the request now ({reasons})."
        if states == {HealthState.RATE_LIMITED}:
            return UpstreamRateLimited(message, retry_after=wait)
        if states == {HealthState.INVALID}:
            if isinstance(last, UpstreamAuthFailed):
                return last  # says which credential and what its upstream answered
            return UpstreamAuthFailed(
                f"No deployment of model '{model.name}' has a credential its upstream accepts "
                f"({reasons}); this is a gateway configuration problem, not your API key."
            )
        if last is not None:
            return last
        return UpstreamUnavailable(message, retry_after=wait)

    def _incapable_error(self, model: ModelAlias) -> TollwayError:
        lacking = [c for c in Capability if any(c in missing for _, missing in self.incapable)]
        names = " and ".join(_CAPABILITY_NAMES[c] for c in lacking)
        return InvalidRequest(
            f"Model '{model.name}' has no deployment that can serve {names} (capability "
            f"{', '.join(c.value for c in lacking)}); leave that out of the request or use a "
            "model whose deployments have it.",
            param=_CAPABILITY_PARAMS[lacking[0]],
            code="unsupported_capability",
        )

    def _too_small_error(self, model: ModelAlias) -> TollwayError:
        largest = max(d.context_window or 0 for d in self.too_small)
        size = self.size
        assert size is not None
        return ContextLengthExceeded(
            f"The prompt (about {size.prompt_tokens} tokens) plus max_tokens "
            f"({size.max_tokens or 0}) does not fit model '{model.name}': its largest context "
            f"window is {largest} tokens. Shorten the prompt or lower max_tokens.",
            param="messages",
        )


# How a 400 names a capability the request needs, and the field it points at.
_CAPABILITY_NAMES = {
    Capability.VISION: "images",
    Capability.TOOLS: "tools",
    Capability.THINKING: "thinking (reasoning)",
    Capability.STRUCTURED_OUTPUTS: "structured outputs (a JSON schema)",
}
_CAPABILITY_PARAMS = {
    Capability.VISION: "messages",
    Capability.TOOLS: "tools",
    Capability.THINKING: "reasoning_effort",
    Capability.STRUCTURED_OUTPUTS: "response_format",
}


def request_size(facts: RequestFacts) -> RequestSize:
    return RequestSize(prompt_tokens=facts.prompt_tokens, max_tokens=facts.max_tokens)


def _lacks(deployment: Deployment, needs: tuple[Capability, ...]) -> tuple[Capability, ...]:
    if not needs:
        return ()
    can = deployment.can()
    return tuple(need for need in needs if need not in can)


class Chooser:
    def __init__(self, health: HealthBoard, load: LoadBoard) -> None:
        self._health = health
        self._load = load
        self._selector = Selector()
        self._next_credential: dict[str, int] = {}

    def choose(
        self, model: ModelAlias, infer: InferRequest, tried: set[tuple[str, str]]
    ) -> Choice | Unavailable:
        unavailable = Unavailable(endpoint=infer.endpoint.value)
        needs_size = model.strategy is RoutingStrategy.LOWEST_COST or any(
            d.context_window for d in model.deployments
        )
        size = request_size(infer.facts) if needs_size else None
        unavailable.size = size
        usable: list[tuple[Deployment, list[tuple[str, Availability]]]] = []
        for deployment in model.deployments:
            if deployment.weight <= 0:
                unavailable.weightless.append(deployment)
                continue
            if not FACTS[deployment.provider].serves(infer.endpoint):
                unavailable.unsupported.append(deployment)
                continue
            missing = _lacks(deployment, infer.facts.needs)
            if missing:
                unavailable.incapable.append((deployment, missing))
                continue
            if (
                size is not None
                and deployment.context_window is not None
                and size.prompt_tokens + (size.max_tokens or 0) > deployment.context_window
            ):
                unavailable.too_small.append(deployment)
                continue
            credentials = self._usable_credentials(model, deployment, unavailable)
            if credentials:
                usable.append((deployment, credentials))
        if not usable:
            return unavailable
        # A first attempt (nearly every request) has tried nothing: every usable one is fresh.
        pool = usable
        if tried:
            fresh = [
                (d, creds) for d, creds in usable if any((d.name, c) not in tried for c, _ in creds)
            ]
            pool = fresh or usable
        if len(pool) == 1:
            picked, credentials = pool[0]
        else:
            picked = self._selector.pick(model, [self._load.candidate(d) for d, _ in pool], size)
            credentials = next(creds for d, creds in pool if d.name == picked.name)
        name, found = self._credential(picked, credentials, tried)
        adapter = adapter_for(picked, infer)
        chosen = next((c for c in picked.credentials if c.name == name), None)
        if chosen is not None:
            return Choice(picked, adapter, name, chosen.api_key, found.probe, chosen.auth)
        return Choice(picked, adapter, name, picked.api_key, found.probe, picked.auth)

    def _usable_credentials(
        self, model: ModelAlias, deployment: Deployment, unavailable: Unavailable
    ) -> list[tuple[str, Availability]]:
        names = [c.name for c in deployment.credentials] or [""]
        usable: list[tuple[str, Availability]] = []
        refused: list[Availability] = []
        for name in names:
            found = self._health.check(model, deployment, name)
            if found.usable:
                usable.append((name, found))
            else:
                refused.append(found)
        if not usable:
            soonest = min(
                refused, key=lambda a: a.retry_after_s if a.retry_after_s is not None else 1e18
            )
            unavailable.set_aside.append((deployment, soonest))
        return usable

    def _credential(
        self,
        deployment: Deployment,
        credentials: list[tuple[str, Availability]],
        tried: set[tuple[str, str]],
    ) -> tuple[str, Availability]:
        """Credentials of a pool take turns; one this request has not tried comes first."""
        if len(credentials) == 1:
            return credentials[0]
        fresh = [c for c in credentials if (deployment.name, c[0]) not in tried] or credentials
        if len(fresh) == 1:
            return fresh[0]
        turn = self._next_credential.get(deployment.name, 0)
        self._next_credential[deployment.name] = turn + 1
        return fresh[turn % len(fresh)]
