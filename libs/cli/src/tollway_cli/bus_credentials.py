"""The NATS password of each service: made once on first start, kept in the data folder
(mode 0600) and reused on restart, so no well-known default ever opens the bus."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from tollway_common.bus_permissions import Service

FILENAME = "nats-credentials.json"


@dataclass(frozen=True)
class BusCredentials:
    passwords: dict[Service, str]

    @classmethod
    def generate(cls) -> BusCredentials:
        return cls({service: secrets.token_urlsafe(32) for service in Service})

    @classmethod
    def load_or_create(cls, data_dir: Path) -> BusCredentials:
        """Read `<data_dir>/nats-credentials.json`, adding a password for any service it lacks
        (a newer release may add one); written with mode 0600."""
        stored = data_dir / FILENAME
        known: dict[str, str] = json.loads(stored.read_text()) if stored.exists() else {}
        fresh = cls.generate().passwords
        passwords = {service: known.get(service.value, fresh[service]) for service in Service}
        if set(known) != {service.value for service in Service}:
            data_dir.mkdir(parents=True, exist_ok=True)
            stored.touch(mode=0o600)
            stored.chmod(0o600)
            stored.write_text(json.dumps({s.value: p for s, p in passwords.items()}, indent=2))
        return cls(passwords)

    def env(self, service: Service, url: str) -> dict[str, str]:
        """The variables that give one service, and only it, its NATS identity."""
        prefix = f"TOLLWAY_{service.value.upper()}_NATS__"
        return {
            f"{prefix}URL": url,
            f"{prefix}USER": service.value,
            f"{prefix}PASSWORD": self.passwords[service],
        }
