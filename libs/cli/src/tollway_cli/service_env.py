"""The environment each service the launcher starts gets: its own settings, the process basics,
and, for the router alone, the upstream secrets the allow-list names (pure).

Every service used to inherit the launcher's whole environment, so a router (or anything a
model record could make it resolve) could read the admin token and every other secret the
user's shell held."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tollway_common.secret_policy import SecretPolicy

_BASICS = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TMPDIR",
        "TZ",
        "LANG",
        "LANGUAGE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "PYTHONPATH",
        "PYTHONUNBUFFERED",
    }
)
_BASIC_PREFIXES = ("LC_", "OTEL_")
# Upstream calls go through the user's proxy, and Azure hands the router its managed identity
# in these variables.
_ROUTER_NAMES = frozenset(
    {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "MSI_SECRET",
    }
)
# Where secret references are checked: admin at write time, the router when it resolves them.
_SECRET_POLICY_PREFIX = "TOLLWAY_SECRETS_"


def _oauth_key_variables(environ: Mapping[str, str]) -> frozenset[str]:
    """The variable an `env:` OAuth encryption key reference names (and its `_FILE` form)."""
    scheme, _, name = environ.get("TOLLWAY_ROUTER_OAUTH__ENCRYPTION_KEY", "").partition(":")
    return frozenset({name, f"{name}_FILE"}) if scheme == "env" and name else frozenset()


def service_env(
    service: str,
    environ: Mapping[str, str],
    policy: SecretPolicy,
    extra_names: Iterable[str] = (),
) -> dict[str, str]:
    """What of `environ` service `service` ("edge", "router", "metering", "admin") may see;
    `extra_names` are further variables it needs (admin: those its config file's keys name)."""
    own = f"TOLLWAY_{service.upper()}_"
    extra = frozenset(extra_names)
    if service == "router":
        extra |= _oauth_key_variables(environ)

    def wanted(name: str) -> bool:
        if name in _BASICS or name.startswith(_BASIC_PREFIXES) or name.startswith(own):
            return True
        if name in extra:
            return True
        if service in ("router", "admin") and name.startswith(_SECRET_POLICY_PREFIX):
            return True
        return service == "router" and (name in _ROUTER_NAMES or policy.env_allowed(name))

    return {name: value for name, value in environ.items() if wanted(name)}
