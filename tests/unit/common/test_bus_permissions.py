"""The permission table covers the whole contract and keeps each service to its part."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from tollway_common import contract
from tollway_common.bus_permissions import (
    CONTROL_PLANE_BUCKETS,
    EDGE_REPLIES,
    ExtraUser,
    Permissions,
    Service,
    inbox_prefix,
    permissions,
    server_authorization,
)


def _matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: `*` one token, `>` the rest."""
    want, got = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(got) > index
        if index >= len(got) or (token != "*" and not fnmatchcase(got[index], token)):
            return False
    return len(want) == len(got)


def _may(service: Service, action: str, subject: str) -> bool:
    allowed = getattr(permissions(service), action)
    return any(_matches(pattern, subject) for pattern in allowed)


def _contract_names(prefix: str = "", suffix: str = "") -> list[str]:
    return [
        value
        for name, value in vars(contract).items()
        if isinstance(value, str) and name.startswith(prefix) and name.endswith(suffix)
    ]


@pytest.mark.parametrize("bucket", _contract_names(prefix="KV_"))
def test_every_bucket_has_a_writer_and_a_reader(bucket: str) -> None:
    writers = [s for s in Service if _may(s, "publish", f"$KV.{bucket}.key")]
    readers = [s for s in Service if _may(s, "publish", f"$JS.API.DIRECT.GET.KV_{bucket}.x")]
    if bucket in (contract.KV_BATCHES, contract.KV_FILES):
        # Clients' own data: the edge writes what they create, routers what batches produce.
        assert writers == [Service.EDGE, Service.ROUTER]
    elif bucket in _ROUTER_BUCKETS:
        # Data plane: routers keep stored responses and OAuth accounts' tokens and health.
        assert writers == [Service.ROUTER]
    else:
        assert Service.ADMIN in writers
    assert set(writers) <= set(readers)


_ROUTER_BUCKETS = (contract.KV_RESPONSES, contract.KV_OAUTH_TOKENS, contract.KV_OAUTH_HEALTH)


def test_only_routers_hold_oauth_tokens_and_admin_reads_only_their_health() -> None:
    def readers(bucket: str) -> list[Service]:
        return [s for s in Service if _may(s, "publish", f"$JS.API.DIRECT.GET.KV_{bucket}.x")]

    assert readers(contract.KV_OAUTH_TOKENS) == [Service.ROUTER]
    assert readers(contract.KV_OAUTH_HEALTH) == [Service.ROUTER, Service.ADMIN]
    assert not _may(Service.ADMIN, "publish", f"$KV.{contract.KV_OAUTH_HEALTH}.acct_1")


def test_only_routers_keep_stored_responses_and_only_edges_ask_for_them() -> None:
    bucket = contract.KV_RESPONSES
    assert [s for s in Service if _may(s, "publish", f"$KV.{bucket}.resp_1")] == [Service.ROUTER]
    readers = [s for s in Service if _may(s, "publish", f"$JS.API.DIRECT.GET.KV_{bucket}.x")]
    assert readers == [Service.ROUTER]
    subject = contract.RESPONSES_STORE_SUBJECT
    assert [s for s in Service if _may(s, "publish", subject)] == [Service.EDGE]
    assert [s for s in Service if _may(s, "subscribe", subject)] == [Service.ROUTER]


def test_only_admin_asks_about_client_sessions_and_only_edges_answer() -> None:
    subject = contract.CLIENT_SESSIONS_SUBJECT
    assert [s for s in Service if _may(s, "publish", subject)] == [Service.ADMIN]
    assert [s for s in Service if _may(s, "subscribe", subject)] == [Service.EDGE]


def test_only_the_edge_queues_batch_lines_and_only_routers_store_results() -> None:
    lines = contract.batch_lines_subject("batch_1")
    results = contract.batch_results_subject("batch_1", ok=True)
    assert [s for s in Service if _may(s, "publish", lines)] == [Service.EDGE]
    assert [s for s in Service if _may(s, "publish", results)] == [Service.ROUTER]
    chunk = f"$O.{contract.OBJECT_FILES}.C.abc"
    assert [s for s in Service if _may(s, "publish", chunk)] == [Service.EDGE, Service.ROUTER]


@pytest.mark.parametrize("subject", _contract_names(suffix="_SUBJECT"))
def test_every_event_subject_has_a_publisher(subject: str) -> None:
    assert any(_may(service, "publish", subject) for service in Service)


@pytest.mark.parametrize(
    ("stream", "durable"),
    [
        (contract.USAGE_STREAM, contract.USAGE_DURABLE),
        (contract.AUDIT_STREAM, contract.AUDIT_DURABLE),
        (contract.BODIES_STREAM, contract.BODIES_DURABLE),
        (contract.ALERTS_STREAM, contract.ALERTS_METERING_DURABLE),
        (contract.ALERTS_STREAM, contract.ALERTS_WEBHOOK_DURABLE),
        (contract.BATCH_LINES_STREAM, contract.BATCH_LINES_DURABLE),
    ],
)
def test_every_durable_has_a_consumer_that_may_fetch_and_ack(stream: str, durable: str) -> None:
    fetch = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
    consumers = [s for s in Service if _may(s, "publish", fetch)]
    assert len(consumers) == 1
    assert _may(consumers[0], "publish", f"$JS.ACK.{stream}.{durable}.1.2.3.4.5")


@pytest.mark.parametrize("endpoint", contract.Endpoint)
def test_only_the_edge_sends_and_only_routers_receive_infer_requests(
    endpoint: contract.Endpoint,
) -> None:
    subject = contract.infer_subject(endpoint)
    assert [s for s in Service if _may(s, "publish", subject)] == [Service.EDGE]
    assert [s for s in Service if _may(s, "subscribe", subject)] == [Service.ROUTER]


def test_only_routers_answer_and_only_edges_read_the_answers() -> None:
    reply = f"{contract.reply_inbox_prefix('edge-1')}.req-1"
    assert [s for s in Service if _may(s, "publish", reply)] == [Service.ROUTER]
    assert [s for s in Service if _may(s, "subscribe", reply)] == [Service.EDGE]
    assert _matches(EDGE_REPLIES, reply)


@pytest.mark.parametrize("bucket", CONTROL_PLANE_BUCKETS)
def test_only_admin_writes_the_control_plane(bucket: str) -> None:
    writers = [s for s in Service if _may(s, "publish", f"$KV.{bucket}.key")]
    assert writers == [Service.ADMIN]


def test_only_admin_publishes_audit_events() -> None:
    assert [s for s in Service if _may(s, "publish", contract.AUDIT_SUBJECT)] == [Service.ADMIN]


def test_each_service_reads_only_its_own_inbox() -> None:
    for service in Service:
        for other in Service:
            inbox = f"{inbox_prefix(other)}.abc.1"
            assert _may(service, "subscribe", inbox) == (service is other)


def test_no_service_may_delete_or_purge_a_stream() -> None:
    streams = (contract.USAGE_STREAM, contract.BATCH_LINES_STREAM, contract.BATCH_RESULTS_STREAM)
    for service in Service:
        for verb in ("DELETE", "PURGE"):
            for stream in streams:
                assert not _may(service, "publish", f"$JS.API.STREAM.{verb}.{stream}")


def test_only_the_files_object_store_is_purged_and_only_by_its_writers() -> None:
    # Replacing or deleting an object purges its old chunks (nats-py's object store).
    purge = f"$JS.API.STREAM.PURGE.OBJ_{contract.OBJECT_FILES}"
    assert [s for s in Service if _may(s, "publish", purge)] == [Service.EDGE, Service.ROUTER]


def test_no_wildcard_reaches_the_whole_bus() -> None:
    for service in Service:
        entry = permissions(service)
        for pattern in (*entry.publish, *entry.subscribe):
            assert not pattern.startswith((">", "*", "$JS.API.>", "$KV.>", "_INBOX.>"))


def test_the_server_config_has_every_service_and_no_anonymous_user() -> None:
    passwords = {service: f"pw-{service.value}" for service in Service}
    extra = ExtraUser("ops", "pw-ops", Permissions(publish=("a",), subscribe=("b",)))
    text = server_authorization(passwords, [extra])
    assert "no_auth_user" not in text
    for service in Service:
        assert f'{{user: "{service.value}", password: "pw-{service.value}"' in text
    assert '"allow": ["a"]' in text
    # Metering answers analytics queries, routers the response store's, edges admin's
    # client session queries.
    assert text.count("allow_responses") == 3


def test_a_password_may_be_an_environment_reference() -> None:
    passwords = {service: f"$NATS_{service.value.upper()}_PASSWORD" for service in Service}
    text = server_authorization(passwords)
    assert "password: $NATS_EDGE_PASSWORD," in text


def _summary_table() -> str:
    """The permission table of docs/security-nats.md, computed from the code."""

    def cell(items: list[str]) -> str:
        return ", ".join(f"`{item}`" for item in items) or "—"

    rows = [
        "| user | publishes | subscribes | KV writes | KV reads | pulls (durable) |",
        "|---|---|---|---|---|---|",
    ]
    for service in Service:
        entry = permissions(service)
        plain = [s for s in entry.publish if not s.startswith("$")]
        kv_write = [s.split(".")[1] for s in entry.publish if s.startswith("$KV.")]
        kv_read = [
            s.split(".")[4].removeprefix("KV_")
            for s in entry.publish
            if s.startswith("$JS.API.DIRECT.GET.KV_") and not s.endswith(">")
        ]
        pulls = [
            ".".join(s.split(".")[5:])
            for s in entry.publish
            if s.startswith("$JS.API.CONSUMER.MSG.NEXT.")
        ]
        subscribe = list(entry.subscribe)
        if entry.allow_responses:
            subscribe.append("(answers requests: allow_responses)")
        rows.append(
            f"| {service.value} | {cell(plain)} | {cell(subscribe)} | {cell(kv_write)} "
            f"| {cell(kv_read)} | {cell(pulls)} |"
        )
    return "\n".join(rows) + "\n"


def test_the_security_doc_shows_the_permission_table_of_the_code() -> None:
    doc = (Path(__file__).parents[3] / "docs/security-nats.md").read_text()
    assert _summary_table() in doc, "regenerate the table: print(_summary_table())"
