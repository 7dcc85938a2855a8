"""nats-server for tests: the services' permissions, fresh passwords, and the suite's own
unrestricted user `test` for tests that seed or inspect the bus (`url_as("test")`)."""

from __future__ import annotations

from pathlib import Path

from tollway_cli.bus_credentials import BusCredentials
from tollway_cli.servers import NatsClusterNode, NatsServer, start_nats
from tollway_common.bus_permissions import ExtraUser

TEST_NATS_USER = ExtraUser("test", "test-only-password")


def start_test_nats(
    data_dir: Path,
    credentials: BusCredentials | None = None,
    port: int = -1,
    cluster: NatsClusterNode | None = None,
) -> NatsServer:
    """Start nats-server as the launcher does; pass the `credentials` of a server being
    restarted to keep its passwords."""
    return start_nats(
        data_dir,
        credentials or BusCredentials.generate(),
        port=port,
        extra_users=(TEST_NATS_USER,),
        cluster=cluster,
    )
