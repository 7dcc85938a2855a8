"""Who may publish and subscribe to what on NATS: one user per service, derived from the contract.

The pure half of the closed bus (docs/security-nats.md, docs/adr/0014-closed-bus.md); the
launcher, the test stack, compose and Helm render it into nats-server's `authorization` block
with `server_authorization`. A service's reach is what its code uses today: adding a subject
to a service means adding it here, and the integration tests run against these permissions.

JetStream is reached through subjects too: `$JS.API.*` requests (stream and consumer
management, direct gets), `$JS.ACK.<stream>.>` acknowledgements, `$JS.FC.<stream>.>`
flow-control replies of KV watchers, and `$KV.<bucket>.>` for KV writes. Every reply (API
answers, JetStream publish acks, KV watcher deliveries) arrives on the service's own inbox
prefix, so no service can read another's replies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from tollway_common import contract


class Service(StrEnum):
    """A NATS user; the value is its user name and the last token of its inbox prefix."""

    EDGE = "edge"
    ROUTER = "router"
    METERING = "metering"
    ADMIN = "admin"


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    # Lets a responder answer a request's reply subject once, whatever its inbox prefix.
    allow_responses: bool = False


def inbox_prefix(service: Service) -> str:
    """The prefix nats-py gives this service's request and subscription inboxes."""
    return f"_INBOX_{service.value}"


# Every edge replies-inbox `<reply_inbox_prefix(edge_id)>.<request>`; routers publish there.
EDGE_REPLIES = f"{contract.reply_inbox_prefix('*')}.*"

_API = "$JS.API"


def _stream_reader(stream: str) -> tuple[str, ...]:
    """Look a stream up and create it if missing; never change an existing one."""
    return (f"{_API}.STREAM.INFO.{stream}", f"{_API}.STREAM.CREATE.{stream}")


def _stream_owner(stream: str) -> tuple[str, ...]:
    return (*_stream_reader(stream), f"{_API}.STREAM.UPDATE.{stream}")


def _kv_reader(bucket: str) -> tuple[str, ...]:
    """Open (or create) a bucket, get keys, and watch it with an ordered consumer."""
    stream = f"KV_{bucket}"
    return (
        *_stream_reader(stream),
        f"{_API}.DIRECT.GET.{stream}",
        f"{_API}.DIRECT.GET.{stream}.>",
        f"{_API}.STREAM.MSG.GET.{stream}",
        f"{_API}.CONSUMER.CREATE.{stream}",
        f"{_API}.CONSUMER.CREATE.{stream}.>",
        f"{_API}.CONSUMER.INFO.{stream}.>",
        f"{_API}.CONSUMER.DELETE.{stream}.>",
        f"$JS.FC.{stream}.>",
    )


def _kv_writer(bucket: str) -> tuple[str, ...]:
    return (*_kv_reader(bucket), f"$KV.{bucket}.>")


def _object_store(bucket: str) -> tuple[str, ...]:
    """Read, write and delete objects: chunks and metadata under `$O.<bucket>.>`, the last
    metadata by subject, an ordered consumer to read chunks, a purge to drop replaced ones."""
    stream = f"OBJ_{bucket}"
    return (
        *_stream_reader(stream),
        f"{_API}.STREAM.MSG.GET.{stream}",
        f"{_API}.STREAM.PURGE.{stream}",
        f"{_API}.CONSUMER.CREATE.{stream}",
        f"{_API}.CONSUMER.CREATE.{stream}.>",
        f"{_API}.CONSUMER.INFO.{stream}.>",
        f"{_API}.CONSUMER.DELETE.{stream}.>",
        f"$JS.FC.{stream}.>",
        f"$O.{bucket}.>",
    )


def _pull_consumer(stream: str, durable: str) -> tuple[str, ...]:
    """Create-or-update one durable pull consumer, fetch from it and ack what it delivers."""
    return (
        f"{_API}.CONSUMER.CREATE.{stream}.{durable}",
        f"{_API}.CONSUMER.CREATE.{stream}.{durable}.>",
        f"{_API}.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
        f"{_API}.CONSUMER.INFO.{stream}.{durable}",
        f"{_API}.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    )


_INFER = tuple(contract.infer_subject(endpoint) for endpoint in contract.Endpoint)

CONTROL_PLANE_BUCKETS = (
    contract.KV_MODELS,
    contract.KV_KEYS,
    contract.KV_ORGS,
    contract.KV_TEAMS,
    contract.KV_USERS,
    contract.KV_PRICES,
    contract.KV_BUDGETS,
)
EDGE_BUCKETS = (
    contract.KV_MODELS,
    contract.KV_KEYS,
    contract.KV_ORGS,
    contract.KV_TEAMS,
    contract.KV_PRICES,
    contract.KV_BUDGETS,
)

PERMISSIONS: Mapping[Service, Permissions] = {
    Service.EDGE: Permissions(
        publish=(
            *_INFER,
            contract.CANCEL_WILDCARD,
            contract.USAGE_SUBJECT,
            contract.ALERTS_SUBJECT,
            contract.analytics_subject("summary"),
            contract.RESPONSES_STORE_SUBJECT,
            contract.presence_subject(Service.EDGE),
            *_stream_reader(contract.ALERTS_STREAM),
            *(subject for bucket in EDGE_BUCKETS for subject in _kv_reader(bucket)),
            # Files and batches: uploads, batch records, and each batch's lines queued.
            *_object_store(contract.OBJECT_FILES),
            *_kv_writer(contract.KV_FILES),
            *_kv_writer(contract.KV_BATCHES),
            contract.BATCH_LINES_WILDCARD,
            *_stream_reader(contract.BATCH_LINES_STREAM),
            *_stream_reader(contract.BATCH_RESULTS_STREAM),
        ),
        # Answers admin's listings and revocations of client sessions (edges' queue group).
        subscribe=(EDGE_REPLIES, contract.CLIENT_SESSIONS_SUBJECT),
        allow_responses=True,
    ),
    Service.ROUTER: Permissions(
        publish=(
            EDGE_REPLIES,
            contract.USAGE_SUBJECT,
            contract.BODIES_SUBJECT,
            contract.presence_subject(Service.ROUTER),
            *_stream_reader(contract.USAGE_STREAM),
            *_stream_reader(contract.BODIES_STREAM),
            *_kv_reader(contract.KV_MODELS),
            # Routers share what they learn about deployment health through this bucket.
            *_kv_writer(contract.KV_HEALTH),
            # OAuth accounts: sealed tokens and refresh leases (routers alone), token health.
            *_kv_writer(contract.KV_OAUTH_TOKENS),
            *_kv_writer(contract.KV_OAUTH_HEALTH),
            # Stored Responses API answers: routers alone keep and read them.
            *_kv_writer(contract.KV_RESPONSES),
            # Batches: drain the lines, store each result, count progress, write the output.
            *_stream_reader(contract.BATCH_LINES_STREAM),
            *_pull_consumer(contract.BATCH_LINES_STREAM, contract.BATCH_LINES_DURABLE),
            contract.BATCH_RESULTS_WILDCARD,
            *_stream_reader(contract.BATCH_RESULTS_STREAM),
            f"{_API}.STREAM.MSG.GET.{contract.BATCH_RESULTS_STREAM}",
            *_kv_writer(contract.KV_BATCHES),
            *_kv_writer(contract.KV_FILES),
            *_object_store(contract.OBJECT_FILES),
        ),
        subscribe=(
            contract.INFER_WILDCARD,
            contract.CANCEL_WILDCARD,
            contract.RESPONSES_STORE_SUBJECT,
        ),
        # Answers the edges' response store queries on their request inboxes.
        allow_responses=True,
    ),
    Service.METERING: Permissions(
        publish=(
            contract.presence_subject(Service.METERING),
            *_stream_owner(contract.USAGE_STREAM),
            *_stream_owner(contract.AUDIT_STREAM),
            *_stream_owner(contract.BODIES_STREAM),
            *_stream_owner(contract.ALERTS_STREAM),
            *_pull_consumer(contract.USAGE_STREAM, contract.USAGE_DURABLE),
            *_pull_consumer(contract.AUDIT_STREAM, contract.AUDIT_DURABLE),
            *_pull_consumer(contract.BODIES_STREAM, contract.BODIES_DURABLE),
            *_pull_consumer(contract.ALERTS_STREAM, contract.ALERTS_METERING_DURABLE),
            *_kv_reader(contract.KV_PRICES),
        ),
        subscribe=(contract.analytics_subject("*"),),
        allow_responses=True,
    ),
    Service.ADMIN: Permissions(
        publish=(
            contract.AUDIT_SUBJECT,
            contract.analytics_subject("*"),
            contract.CLIENT_SESSIONS_SUBJECT,
            contract.presence_subject(Service.ADMIN),
            *_stream_owner(contract.USAGE_STREAM),
            *_stream_owner(contract.AUDIT_STREAM),
            *_stream_owner(contract.ALERTS_STREAM),
            *_pull_consumer(contract.ALERTS_STREAM, contract.ALERTS_WEBHOOK_DURABLE),
            *(subject for bucket in CONTROL_PLANE_BUCKETS for subject in _kv_writer(bucket)),
            *_kv_writer(contract.KV_HEALTH),
            *_kv_writer(contract.KV_ADMIN_SESSIONS),
            # Token health of OAuth accounts, never the tokens' own bucket.
            *_kv_reader(contract.KV_OAUTH_HEALTH),
        ),
        subscribe=(contract.PRESENCE_WILDCARD,),
    ),
}


def permissions(service: Service) -> Permissions:
    """The service's table entry with its own inbox added to what it may subscribe to."""
    entry = PERMISSIONS[service]
    own_inbox = f"{inbox_prefix(service)}.>"
    return Permissions(entry.publish, (*entry.subscribe, own_inbox), entry.allow_responses)


@dataclass(frozen=True)
class ExtraUser:
    """A user outside the four services (the test suite's own client); None: no limits."""

    name: str
    password: str
    permissions: Permissions | None = None


def server_authorization(passwords: Mapping[Service, str], extra: Iterable[ExtraUser] = ()) -> str:
    """The nats-server `authorization { users: [...] }` block for these passwords.

    A password may be a literal or a `$VARIABLE` nats-server reads from its environment
    (compose and Helm pass secrets that way). There is no `no_auth_user`: a client without
    credentials is refused.
    """
    users = [_user(service.value, passwords[service], permissions(service)) for service in Service]
    users += [_user(user.name, user.password, user.permissions) for user in extra]
    return "authorization {\n  users: [\n" + ",\n".join(users) + "\n  ]\n}\n"


def _user(name: str, password: str, perms: Permissions | None) -> str:
    secret = password if password.startswith("$") else json.dumps(password)
    entry = f"    {{user: {json.dumps(name)}, password: {secret}"
    if perms is None:
        return entry + "}"
    rules = {
        "publish": {"allow": list(perms.publish)},
        "subscribe": {"allow": list(perms.subscribe)},
    }
    body = json.dumps(rules)[1:-1]
    if perms.allow_responses:
        body += ', "allow_responses": true'
    return f"{entry}, permissions: {{{body}}}}}"
