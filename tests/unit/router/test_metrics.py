"""The router's health gauges: token health of OAuth accounts and counts per state, read from
the shared records at scrape time, with catalog names as the only labels."""

from __future__ import annotations

from tollway_common.contract import DeploymentHealth, HealthState
from tollway_common.control import Credential, Deployment, ModelAlias, OAuthRefreshToken
from tollway_common.oauth_tokens import TokenHealth, TokenState, account_key
from tollway_router.metrics import DeploymentStates, OAuthTokens

ALICE = OAuthRefreshToken(
    type="oauth_refresh_token",
    token_url="https://idp.example/token",
    client_id="c",
    refresh_token="env:TOLLWAY_UPSTREAM_ALICE",
)
BOB = ALICE.model_copy(update={"refresh_token": "env:TOLLWAY_UPSTREAM_BOB"})
POOL = Deployment(
    name="claude-accounts",
    provider="anthropic",
    model="claude-sonnet-4-5",
    credentials=[Credential(name="alice", auth=ALICE), Credential(name="bob", auth=BOB)],
)
KEYED = Deployment(name="keyed", provider="openai", model="gpt-4o", api_key="env:OPENAI_API_KEY")
CATALOG = {"claude": ModelAlias(name="claude", deployments=[POOL, KEYED])}


def _samples(collector: OAuthTokens | DeploymentStates) -> dict[tuple[str, tuple[str, ...]], float]:
    return {
        (sample.name, tuple(sample.labels.values())): sample.value
        for family in collector.collect()
        for sample in family.samples
    }


def test_each_oauth_account_reports_its_token_health_and_nothing_else() -> None:
    alice = TokenHealth(
        account=account_key(ALICE, None),
        expires_at=1800.0,
        last_refresh=1700.0,
        state=TokenState.ACTIVE,
    )
    bob = TokenHealth(
        account=account_key(BOB, None), failures=1, state=TokenState.INVALID, reason="refused"
    )
    collector = OAuthTokens()
    collector.watch(lambda: CATALOG, lambda: {alice.account: alice, bob.account: bob})
    samples = _samples(collector)
    labels = ("claude", "claude-accounts")
    assert samples[("tollway_oauth_token_expires_at_seconds", (*labels, "alice"))] == 1800.0
    assert samples[("tollway_oauth_token_last_refresh_seconds", (*labels, "alice"))] == 1700.0
    assert samples[("tollway_oauth_token_failures", (*labels, "bob"))] == 1.0
    assert samples[("tollway_oauth_token_state", (*labels, "bob", "invalid"))] == 1.0
    assert samples[("tollway_oauth_token_state", (*labels, "bob", "active"))] == 0.0
    assert {key[1][2] for key in samples} == {"alice", "bob"}, "only OAuth accounts"


def test_the_state_counts_cover_deployments_and_pool_credentials() -> None:
    invalid = DeploymentHealth(
        alias="claude", deployment="claude-accounts", credential="bob", state=HealthState.INVALID
    )
    collector = DeploymentStates()
    collector.watch(lambda: CATALOG, lambda: [invalid])
    samples = _samples(collector)
    count = "tollway_health_state_count"
    assert samples[(count, ("deployment", "active"))] == 2.0
    assert samples[(count, ("credential", "active"))] == 1.0
    assert samples[(count, ("credential", "invalid"))] == 1.0
    assert samples[(count, ("deployment", "invalid"))] == 0.0
