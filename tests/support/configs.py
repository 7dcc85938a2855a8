"""The configuration integration tests run with: a fake-provider model and models pointing at
a fake OpenAI upstream on loopback."""

from __future__ import annotations

from pathlib import Path

from tollway_common.config_file import BootstrapKey, TollwayConfig
from tollway_common.control import Deployment, ModelAlias

TEST_KEY = "sk-tollway-test-0123456789abcdefghij"
LIMITED_KEY = "sk-tollway-limited-0123456789abcdef"
UPSTREAM_SECRET = "sk-upstream-secret-never-logged-42"


def gateway_config(
    workdir: Path, upstream_base_url: str, extra_models: list[ModelAlias] | None = None
) -> TollwayConfig:
    secrets = workdir / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "test-key").write_text(TEST_KEY)
    (secrets / "limited-key").write_text(LIMITED_KEY)
    (secrets / "upstream").write_text(UPSTREAM_SECRET)
    return TollwayConfig(
        models=[
            ModelAlias(
                name="tollway-demo",
                deployments=[Deployment(name="demo-fake", provider="fake", model="demo-1")],
            ),
            ModelAlias(
                name="gpt-test",
                deployments=[
                    Deployment(
                        name="fake-openai",
                        provider="openai",
                        model="gpt-4o-mini",
                        api_base=upstream_base_url,
                        api_key=f"file:{secrets / 'upstream'}",
                    )
                ],
            ),
            ModelAlias(
                name="gpt-impatient",
                deployments=[
                    Deployment(
                        name="fake-openai-1s",
                        provider="openai",
                        model="gpt-4o-mini",
                        api_base=upstream_base_url,
                        api_key=f"file:{secrets / 'upstream'}",
                        timeout_s=1,
                    )
                ],
            ),
            *(extra_models or []),
        ],
        keys=[
            BootstrapKey(name="test", secret=f"file:{secrets / 'test-key'}"),
            BootstrapKey(
                name="limited", secret=f"file:{secrets / 'limited-key'}", models=["tollway-demo"]
            ),
        ],
    )
