"""Everything edge, router, metering and admin exchange over NATS: names, headers and wire models.

No service spells a subject, header, stream or bucket name by hand; they take it from here.
Wire models are frozen and ignore unknown fields on read, so a newer sender can talk to an older
reader during a rollout. Changes inside `v1` are additive only.
"""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, SerializationInfo, field_serializer

from tollway_common.openai_errors import OpenAIErrorBody

_PREFIX = "tollway.v1"

# --- subjects -------------------------------------------------------------------------------


class Endpoint(StrEnum):
    """An inference endpoint; the value is the last token of its infer subject."""

    CHAT_COMPLETIONS = "chat_completions"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    # Anthropic's Messages API; served natively by Anthropic deployments, translated to and
    # from chat for the others.
    MESSAGES = "messages"
    MESSAGES_COUNT_TOKENS = "messages_count_tokens"
    # OpenAI's moderation classifier: passed through, no output tokens.
    MODERATIONS = "moderations"
    # OpenAI's Responses API; served natively by OpenAI and Azure OpenAI deployments,
    # translated to and from chat for the others. Tollway stores the responses itself.
    RESPONSES = "responses"
    # Images, audio and reranking: passed through to the providers that offer them. The
    # edits, variations, transcriptions and translations arrive as multipart forms, carried
    # in `InferRequest.body` as `tollway_common.forms` describes; speech answers audio bytes.
    IMAGES_GENERATIONS = "images_generations"
    IMAGES_EDITS = "images_edits"
    IMAGES_VARIATIONS = "images_variations"
    AUDIO_TRANSCRIPTIONS = "audio_transcriptions"
    AUDIO_TRANSLATIONS = "audio_translations"
    AUDIO_SPEECH = "audio_speech"
    RERANK = "rerank"


def infer_subject(endpoint: Endpoint) -> str:
    return f"{_PREFIX}.infer.{endpoint.value}"


INFER_WILDCARD = f"{_PREFIX}.infer.*"


def cancel_subject(request_id: str) -> str:
    return f"{_PREFIX}.cancel.{request_id}"


CANCEL_WILDCARD = f"{_PREFIX}.cancel.*"


def request_id_from_cancel_subject(subject: str) -> str:
    return subject.rsplit(".", 1)[-1]


USAGE_SUBJECT = f"{_PREFIX}.usage"
AUDIT_SUBJECT = f"{_PREFIX}.audit"
# Redacted request and response bodies, only for callers whose policy logs them.
BODIES_SUBJECT = f"{_PREFIX}.bodies"
ALERTS_SUBJECT = f"{_PREFIX}.alerts"


# Stored Responses API objects, read and deleted by edges on a caller's behalf; routers answer
# in their queue group (`ResponseStoreQuery` in, the JSON body or an `ErrorReply` out).
RESPONSES_STORE_SUBJECT = f"{_PREFIX}.responses.store"

# A virtual key's client sessions (per-client concurrency, held in the edges' Redis): admin lists
# and revokes them through any edge, in the edges' queue group (`ClientSessionQuery` in,
# `ClientSessionsReply` out).
CLIENT_SESSIONS_SUBJECT = f"{_PREFIX}.client_sessions"


def batch_lines_subject(batch_id: str) -> str:
    """Where a batch's input lines wait for a router (work-queue stream `BATCH_LINES_STREAM`)."""
    return f"{_PREFIX}.batch.lines.{batch_id}"


BATCH_LINES_WILDCARD = f"{_PREFIX}.batch.lines.*"


def batch_results_subject(batch_id: str, ok: bool) -> str:
    """Where a router stores one line's result: `.ok` for a 2xx answer, `.failed` otherwise, so
    the stream's per-subject counts are the batch's progress."""
    return f"{_PREFIX}.batch.results.{batch_id}.{'ok' if ok else 'failed'}"


def batch_results_filter(batch_id: str) -> str:
    return f"{_PREFIX}.batch.results.{batch_id}.*"


BATCH_RESULTS_WILDCARD = f"{_PREFIX}.batch.results.>"


def analytics_subject(query: str) -> str:
    return f"{_PREFIX}.analytics.{query}"


def presence_subject(service: str) -> str:
    return f"{_PREFIX}.presence.{service}"


PRESENCE_WILDCARD = f"{_PREFIX}.presence.*"


def reply_inbox_prefix(edge_id: str) -> str:
    """Each edge process owns one wildcard subscription `<prefix>.*` for all its replies."""
    return f"_TOLLWAY.{edge_id}"


ROUTER_QUEUE_GROUP = "tollway-router"
METERING_QUEUE_GROUP = "tollway-metering"
EDGE_QUEUE_GROUP = "tollway-edge"

USAGE_STREAM = "TOLLWAY_USAGE"
USAGE_DURABLE = "metering-usage"
AUDIT_STREAM = "TOLLWAY_AUDIT"
AUDIT_DURABLE = "metering-audit"
BODIES_STREAM = "TOLLWAY_BODIES"
BODIES_DURABLE = "metering-bodies"
ALERTS_METERING_DURABLE = "metering-alerts"
ALERTS_STREAM = "TOLLWAY_ALERTS"
ALERTS_WEBHOOK_DURABLE = "admin-webhooks"

BATCH_LINES_STREAM = "TOLLWAY_BATCH_LINES"
BATCH_LINES_DURABLE = "router-batch-lines"
BATCH_RESULTS_STREAM = "TOLLWAY_BATCH_RESULTS"

KV_MODELS = "tollway_models"
KV_KEYS = "tollway_keys"
KV_ORGS = "tollway_orgs"
KV_TEAMS = "tollway_teams"
KV_USERS = "tollway_users"
KV_PRICES = "tollway_prices"
KV_BUDGETS = "tollway_budgets"
# Deployment and credential health, written by routers (and by admin for operator overrides),
# watched by every router replica and by admin. Keyed by `health_key(alias, deployment, cred)`.
KV_HEALTH = "tollway_health"
# OAuth accounts' tokens (`oauth_tokens.StoredTokens`: the refresh and access tokens sealed
# with the router's encryption key, and the lease that makes one router refresh at a time),
# keyed by `oauth_tokens.account_key`; only routers read or write it.
KV_OAUTH_TOKENS = "tollway_oauth_tokens"
# Each OAuth account's token health (`oauth_tokens.TokenHealth`: no secret), written by routers
# and read by admin, keyed like `KV_OAUTH_TOKENS`.
KV_OAUTH_HEALTH = "tollway_oauth_health"
# Stored Responses API responses and their inputs (`previous_response_id`, GET
# /v1/responses/{id}), keyed by response id; only routers read or write it, with a TTL.
KV_RESPONSES = "tollway_responses"
# Admin UI sessions signed out before they expired, keyed by session id; only admin reads it.
KV_ADMIN_SESSIONS = "tollway_admin_sessions"
# Batch records (`tollway_common.batches.BatchRecord`) and file records, keyed
# `<owner>.<id>`; the files' contents live in the object store `OBJECT_FILES` under their id.
KV_BATCHES = "tollway_batches"
KV_FILES = "tollway_file_records"
OBJECT_FILES = "tollway_files"

# --- headers --------------------------------------------------------------------------------

HEADER_REQUEST_ID = "Tollway-Request-Id"
HEADER_KIND = "Tollway-Kind"
HEADER_SEQ = "Tollway-Seq"
# On a `chunks` reply: the byte length of each chunk in its body, comma-separated.
HEADER_SIZES = "Tollway-Sizes"
HEADER_ROUTER = "Tollway-Router"
HEADER_TRACEPARENT = "traceparent"
HEADER_MSG_ID = "Nats-Msg-Id"
# Set by nats-server itself on the reply to a request nobody subscribes to.
HEADER_NATS_STATUS = "Status"
NATS_NO_RESPONDERS = "503"


class ReplyKind(StrEnum):
    """What one reply message on an edge inbox carries.

    `chunk` bodies are OpenAI JSON written to the client as they are (an SSE chunk, or the
    whole response body when the client did not stream); `chunks` carries several stream
    chunks that were ready together, back to back, their lengths in `Tollway-Sizes` (one
    message, one header parse and one client write for them all; edge and router ship it
    together: an edge that predates it cannot read it); `final` ends a successful reply;
    `error` ends a failed one; `heartbeat` only proves the router is alive; `head` opens a
    relayed (non-JSON) answer.
    """

    CHUNK = "chunk"
    FINAL = "final"
    ERROR = "error"
    HEARTBEAT = "heartbeat"
    # Opens an answer relayed as the upstream sent it (audio, a plain-text transcript): its
    # body is the `content-type`, and the chunks after it are raw bytes, not OpenAI JSON.
    HEAD = "head"
    CHUNKS = "chunks"


# --- wire models ----------------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Principal(_Wire):
    """Who is calling, as the edge authenticated them: by a virtual key (`key_id` set), by an
    OIDC token (`auth` is `jwt`, `key_id` empty), or as a per-request Foundry tenant (`auth` is
    `tenant`, `key_id` a hash of the tenant's upstream key, `key_name` its resource)."""

    key_id: str
    key_name: str = ""
    user_id: str = ""
    team_id: str = ""
    org_id: str = ""
    auth: str = "key"


class ClientInfo(_Wire):
    """Where a request came from, as far as metering needs to know: the IP only as a hash."""

    ip_hash: str = ""
    user_agent: str = ""


class ResolvedRoute(_Wire):
    """The model alias the client asked for, as the edge's catalog resolved it."""

    alias: str
    catalog_revision: int = 0


class TenantCredential(_Wire):
    """The Foundry resource and key a per-request tenant sent (models with `tenancy:
    per_request`). It exists only in the InferRequest on its way to the router: hidden from
    repr and validation errors, revealed only by `encode`, never copied into usage events."""

    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    resource: str
    api_key: SecretStr
    # The tenant's own deployment on its resource, when it named one the model entry's
    # `tenant_deployments` allow; None: the entry's deployment's model.
    deployment: str | None = None

    @field_serializer("api_key")
    def _reveal_only_on_the_wire(self, value: SecretStr, info: SerializationInfo) -> str:
        wire = isinstance(info.context, dict) and info.context.get(_WIRE_CONTEXT_KEY) is True
        return value.get_secret_value() if wire else str(value)


class Capability(StrEnum):
    """What a request's content may need of the model that serves it, beyond text in and out;
    a deployment declares which it has (`Deployment.capabilities`)."""

    VISION = "vision"  # images among the input
    TOOLS = "tools"  # tool (function) definitions
    THINKING = "thinking"  # a reasoning effort or thinking budget
    STRUCTURED_OUTPUTS = "structured_outputs"  # an answer held to a JSON schema


class RequestFacts(_Wire):
    """What the edge read from the client's body, once, and decided about it, so the router
    never reads the body for them again.

    `max_tokens` is the most one answer may use: the largest token field the endpoint
    honours, or the policy cap or limits default the edge wrote into the body when the client
    named none; None when nothing bounds it. It bounds everything the upstream writes for that
    answer, reasoning or thinking included: an adapter that asks its provider for a separate
    thinking budget keeps budget and text within it. `answers` is how many answers the upstream
    writes (`n`, or `best_of` on completions), each up to `max_tokens`. `prompt_tokens` is the
    prompt's size estimated at about four characters a token. `betas` are the `anthropic-beta`
    header values a Messages client sent; the router forwards only those the serving deployment
    allows (`Deployment.anthropic_betas`). `images` is how many images an image request asks
    for and `characters` how many characters a speech request speaks: a budget reserves their
    cost ahead (`Price.per_image`, `per_mchar`). `needs` are the capabilities the content asks
    of the model (images, tools, a JSON schema, thinking): the router skips deployments without
    them. An edge older than these fields sends none: the router then sees no bound, one
    answer, a zero estimate, no betas, no media units and no needs.
    """

    max_tokens: int | None = None
    answers: int = Field(default=1, ge=1)
    prompt_tokens: int = 0
    betas: tuple[str, ...] = ()
    images: int = Field(default=0, ge=0)
    characters: int = Field(default=0, ge=0)
    needs: tuple[Capability, ...] = ()

    @property
    def output_tokens(self) -> int | None:
        """The most all the answers together may use; None when nothing bounds them."""
        return None if self.max_tokens is None else self.max_tokens * self.answers


class InferRequest(_Wire):
    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    request_id: str
    endpoint: Endpoint
    principal: Principal
    route: ResolvedRoute
    received_at_ms: int
    deadline_ms: int
    stream: bool = False
    include_usage: bool = False
    body: dict[str, Any]
    client: ClientInfo = ClientInfo()
    # The caller's body-logging policy (on if any level turns it on, see the edge's
    # `policy.effective`); None: no level has one and the router's own default decides.
    log_bodies: bool | None = None
    tenant: TenantCredential | None = Field(default=None, repr=False)
    facts: RequestFacts = RequestFacts()
    # Set when the request is one line of a batch (`/v1/batches`), served by a router's drain.
    batch_id: str = ""


class Usage(_Wire):
    """Token counts of one request. `prompt_tokens` already includes cached reads and cache
    writes; the cache and reasoning fields break it down for pricing, never add to it."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated: bool = False
    cached_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    # The units images and audio are billed in, beside (or instead of) tokens: images made,
    # seconds of audio heard, characters of text spoken.
    images: int = 0
    audio_seconds: float = 0.0
    characters: int = 0


class FinalReply(_Wire):
    usage: Usage | None = None
    deployment: str = ""
    provider: str = ""
    upstream_model: str = ""
    upstream_latency_ms: float | None = None
    # The alias that answered when a fallback did; the one asked for otherwise.
    served_model: str = ""


class ErrorReply(_Wire):
    status: int
    error: OpenAIErrorBody
    retry_after: float | None = None
    should_retry: bool | None = None


class ResponseStoreOp(StrEnum):
    """What an edge asks of the response store for a caller."""

    GET = "get"
    DELETE = "delete"
    INPUT_ITEMS = "input_items"


class ResponseStoreQuery(_Wire):
    """One read or delete of a stored response on behalf of `principal`, who must own it.
    `after`, `limit` and `order` page `input_items` as OpenAI's `input_items.list` does."""

    op: ResponseStoreOp
    response_id: str
    principal: Principal
    after: str = ""
    limit: int = Field(default=20, ge=1, le=100)
    order: Literal["asc", "desc"] = "desc"


def decode_response_store_query(data: bytes) -> ResponseStoreQuery:
    return ResponseStoreQuery.model_validate_json(data)


class ClientSessionOp(StrEnum):
    LIST = "list"
    REVOKE = "revoke"


# A client is `client_key` at the edge: 16 hex digits of a hash of its IP hash and user agent.
_CLIENT_PATTERN = r"^[0-9a-f]{16}$"


class ClientSessionQuery(_Wire):
    """List a key's client sessions, or revoke one for `revoke_s` seconds."""

    op: ClientSessionOp
    key_id: str = Field(min_length=1, max_length=128)
    client: str = Field(default="", pattern=rf"{_CLIENT_PATTERN}|^$")
    revoke_s: int = Field(default=900, ge=1, le=86_400)


class ClientSession(_Wire):
    """One client of a key with requests in flight (or revoked): who, since when, how many."""

    key_id: str
    client: str
    user_agent: str = ""
    since_ms: int = 0
    in_flight: int = 0
    revoked_until_ms: int = 0


class ClientSessionsReply(_Wire):
    """The key's sessions, busiest first, or an error: `status` 404 for an unknown key or
    session, 503 when Redis cannot be reached."""

    sessions: list[ClientSession] = Field(default_factory=list)
    status: int = 200
    error: str = ""


def decode_client_session_query(data: bytes) -> ClientSessionQuery:
    return ClientSessionQuery.model_validate_json(data)


def decode_client_sessions_reply(data: bytes) -> ClientSessionsReply:
    return ClientSessionsReply.model_validate_json(data)


class UsageSource(StrEnum):
    """Who wrote a usage event. The router knows the real usage; the edge writes an estimate
    only when the router died mid-request. Metering keeps the router's when both exist."""

    ROUTER = "router"
    EDGE = "edge"


class UsageEvent(_Wire):
    """One per request, published by the router to JetStream and stored by metering."""

    request_id: str
    received_at_ms: int
    endpoint: Endpoint
    principal: Principal
    model_alias: str
    deployment: str = ""
    provider: str = ""
    upstream_model: str = ""
    status_code: int
    error_type: str = ""
    error_code: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    usage_estimated: bool = False
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    stream: bool = False
    router_id: str = ""
    source: UsageSource = UsageSource.ROUTER
    cached_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    upstream_latency_ms: float | None = None
    retries: int = 0
    fallbacks: int = 0
    client: ClientInfo = ClientInfo()
    trace_id: str = ""
    # Set when a fallback alias answered: the alias whose price the answer costs.
    served_model: str = ""
    credential: str = ""
    # One entry per upstream call: "deployment[/credential]:ok" or ":<error code>".
    attempts: list[str] = Field(default_factory=list)
    # Media units (`Usage.images`, `audio_seconds`, `characters`).
    images: int = 0
    audio_seconds: float = 0.0
    characters: int = 0
    # The batch the request was a line of; charged at the batch price where one is set.
    batch_id: str = ""
    # The router's event corrected: the answer's `final` found no edge to take it (the edge
    # had died), so the client got it cut short or not at all. The status says so; the tokens
    # stay what the provider charged.
    client_cut: bool = False


class AuditActor(_Wire):
    """Who made a control-plane change: the bootstrap token, an OIDC subject, or the config
    file loader."""

    kind: str
    id: str
    roles: list[str] = Field(default_factory=list)


class AuditEvent(_Wire):
    """One control-plane change, published by admin to the audit stream and stored by metering.
    `before` and `after` are the records as stored, which never hold a secret."""

    event_id: str
    at_ms: int
    actor: AuditActor
    action: str
    resource_type: str
    resource_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    request_id: str = ""


class BodyEvent(_Wire):
    """A request's bodies, redacted by the router before publishing and stored by metering.

    `request_body` is the client's JSON body; `response_body` the JSON response, or for a
    stream the assembled text. Each is cut to the router's size limit after redaction, and the
    matching `*_truncated` flag says so. `redactions` counts what was replaced, per rule.
    """

    request_id: str
    received_at_ms: int
    principal: Principal
    model_alias: str
    endpoint: Endpoint
    stream: bool = False
    status_code: int = 200
    request_body: str = ""
    response_body: str = ""
    request_truncated: bool = False
    response_truncated: bool = False
    redactions: dict[str, int] = Field(default_factory=dict)


class BodyQuery(_Wire):
    """Ask metering for the stored bodies of these requests."""

    request_ids: list[str] = Field(default_factory=list)
    limit: int = 100


class BodyReply(_Wire):
    bodies: list[BodyEvent] = Field(default_factory=list)
    error: str = ""


class UsageFilter(_Wire):
    """Which usage rows a query covers; empty fields do not filter. Times are Unix ms, the
    range [since_ms, until_ms) with until_ms 0 meaning now."""

    since_ms: int = 0
    until_ms: int = 0
    key_id: str = ""
    user_id: str = ""
    team_id: str = ""
    org_id: str = ""
    model_alias: str = ""
    provider: str = ""
    deployment: str = ""
    # A pool credential's name (`Credential.name`); names repeat across deployments, so pair it
    # with `deployment` to mean one account.
    credential: str = ""
    errors_only: bool = False


class AnalyticsQuery(_Wire):
    """Ask metering for stored usage rows, oldest first; an empty filter means every row
    (capped by limit). Page with `after` = the last row's (received_at_ms, request_id)."""

    request_ids: list[str] = Field(default_factory=list)
    limit: int = 1000
    filter: UsageFilter = UsageFilter()
    after_ms: int = 0
    after_request_id: str = ""


# `credential` groups by deployment and credential together (`<deployment>/<credential>`, or
# the deployment alone where it has a single key): a credential's name is unique only within
# its deployment.
SummaryDimension = Literal[
    "key_id",
    "user_id",
    "team_id",
    "org_id",
    "model_alias",
    "provider",
    "deployment",
    "credential",
]
SUMMARY_DIMENSIONS: tuple[SummaryDimension, ...] = get_args(SummaryDimension)
SummaryBucket = Literal["minute", "hour", "day"]
SUMMARY_BUCKETS: tuple[SummaryBucket, ...] = get_args(SummaryBucket)
SummaryOrder = Literal["time", "cost", "requests"]
SUMMARY_ORDERS: tuple[SummaryOrder, ...] = get_args(SummaryOrder)


class SummaryQuery(_Wire):
    """Totals and percentiles from the deduplicated rows, per `group_by` dimension (one of
    SUMMARY_DIMENSIONS, or none) and per time `bucket` (one of SUMMARY_BUCKETS, or none),
    ordered by one of SUMMARY_ORDERS. The fields stay strings on the wire so metering answers
    a value it does not know with an error, not a decoding failure; admin checks them first."""

    filter: UsageFilter = UsageFilter()
    group_by: str = ""
    bucket: str = ""
    order_by: str = "time"
    limit: int = 1000


class SummaryRow(_Wire):
    bucket_ms: int = 0
    group: str = ""
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_read_tokens: int = 0
    cost: str = "0"
    currency: str = ""
    unpriced_requests: int = 0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    latency_p99_ms: float = 0.0
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    ttft_p99_ms: float | None = None


class SummaryReply(_Wire):
    rows: list[SummaryRow] = Field(default_factory=list)
    error: str = ""


class AuditQuery(_Wire):
    since_ms: int = 0
    until_ms: int = 0
    actor_id: str = ""
    action: str = ""
    resource_type: str = ""
    resource_id: str = ""
    limit: int = 200
    offset: int = 0


class AuditReply(_Wire):
    events: list[AuditEvent] = Field(default_factory=list)
    error: str = ""


class UsageRow(_Wire):
    request_id: str
    received_at_ms: int
    key_id: str
    model_alias: str
    deployment: str
    provider: str
    endpoint: str
    status_code: int
    error_type: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    latency_ms: float
    ttft_ms: float | None
    stream: bool
    usage_estimated: bool = False
    user_id: str = ""
    team_id: str = ""
    org_id: str = ""
    cached_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: str = "0"
    currency: str = ""
    price_version: str = ""
    unpriced: bool = False
    upstream_model: str = ""
    error_code: str = ""
    served_model: str = ""
    credential: str = ""
    attempts: list[str] = Field(default_factory=list)
    retries: int = 0
    fallbacks: int = 0
    trace_id: str = ""
    images: int = 0
    audio_seconds: float = 0.0
    characters: int = 0
    batch_id: str = ""
    # What an estimate would cost at the price; never part of `cost` (docs/metering.md).
    estimated_cost: str = "0"


class AnalyticsReply(_Wire):
    rows: list[UsageRow] = Field(default_factory=list)
    error: str = ""


# What the request log's `status` filter takes besides an exact code ("429"): a class of codes,
# `ok` for 2xx and `error` for 4xx and 5xx.
REQUEST_STATUS_CLASSES = ("ok", "error", "2xx", "3xx", "4xx", "5xx")


class RequestLogQuery(_Wire):
    """Ask metering for recent requests, newest first, one row per request (the deduplicated
    usage rows). `status` is one of REQUEST_STATUS_CLASSES or a code; `request_id_prefix`
    matches the start of the id. Page with `before` = the last row's (received_at_ms,
    request_id)."""

    filter: UsageFilter = UsageFilter()
    status: str = ""
    request_id_prefix: str = ""
    limit: int = 50
    before_ms: int = 0
    before_request_id: str = ""


class RequestLogReply(_Wire):
    rows: list[UsageRow] = Field(default_factory=list)
    error: str = ""


class RequestRecord(_Wire):
    """One stored usage event of a request as it was written, before deduplication: the
    router's (`source` router, real usage) and, where a router died, the edge's estimate."""

    source: str
    row: UsageRow
    router_id: str = ""
    key_name: str = ""
    upstream_latency_ms: float | None = None
    inserted_at_ms: int = 0


class RequestDetailQuery(_Wire):
    """Ask metering for everything stored about one request: its usage events and its
    (redacted) bodies, within `filter` (the reader's scope)."""

    request_id: str
    filter: UsageFilter = UsageFilter()


class RequestDetailReply(_Wire):
    records: list[RequestRecord] = Field(default_factory=list)
    bodies: list[BodyEvent] = Field(default_factory=list)
    error: str = ""


class HealthState(StrEnum):
    """Where one deployment (or one credential of it) stands.

    `active` serves traffic; `inactive` is switched off (by an operator, or idle past the
    configured period: `reason` says which); `rate_limited` waits out `until_ms` (the upstream's
    Retry-After or the configured cooldown); `invalid` means the upstream rejected the
    credential and stays so until a probe or an operator clears it.
    """

    ACTIVE = "active"
    INACTIVE = "inactive"
    RATE_LIMITED = "rate_limited"
    INVALID = "invalid"


class DeploymentHealth(_Wire):
    """The shared health record of one deployment or credential (NATS KV `KV_HEALTH`)."""

    alias: str
    deployment: str
    credential: str = ""
    state: HealthState = HealthState.ACTIVE
    reason: str = ""
    until_ms: int = 0
    updated_at_ms: int = 0
    updated_by: str = ""
    operator: bool = False
    last_used_ms: int = 0


def health_key(alias: str, deployment: str, credential: str = "") -> str:
    """A KV key for one deployment's (or credential's) health; KV keys allow `[-/_=.a-zA-Z0-9]`,
    so each part is base64url-encoded."""
    parts = [alias, deployment] + ([credential] if credential else [])
    return ".".join(base64.urlsafe_b64encode(p.encode()).decode().rstrip("=") for p in parts)


def decode_deployment_health(data: bytes) -> DeploymentHealth:
    return DeploymentHealth.model_validate_json(data)


# --- codecs ---------------------------------------------------------------------------------

_WIRE_CONTEXT_KEY = "tollway_wire"


def encode(model: BaseModel) -> bytes:
    """The wire form: the only serialisation that reveals a `TenantCredential`'s key."""
    return model.model_dump_json(context={_WIRE_CONTEXT_KEY: True}).encode()


def decode_infer_request(data: bytes) -> InferRequest:
    return InferRequest.model_validate_json(data)


def decode_final_reply(data: bytes) -> FinalReply:
    return FinalReply.model_validate_json(data)


def decode_error_reply(data: bytes) -> ErrorReply:
    return ErrorReply.model_validate_json(data)


def decode_usage_event(data: bytes) -> UsageEvent:
    return UsageEvent.model_validate_json(data)


class Presence(_Wire):
    """A service replica saying it is alive, every few seconds (core NATS, not stored)."""

    service: str
    instance: str
    version: str
    started_at_ms: int
    at_ms: int
    ready: bool = True


class BatchLine(_Wire):
    """One line of a batch on the work queue, checked and admitted by the edge: everything a
    router needs to serve it as the batch's owner without reading the input file again."""

    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    batch_id: str
    owner: str
    line_no: int = Field(ge=1)
    custom_id: str
    endpoint: Endpoint
    principal: Principal
    alias: str
    body: dict[str, Any]
    facts: RequestFacts = RequestFacts()
    log_bodies: bool | None = None
    client: ClientInfo = ClientInfo()


class BatchResult(_Wire):
    """One line's entry of the output or error file, OpenAI's batch output line as `line`."""

    line_no: int
    line: dict[str, Any]


def decode_batch_line(data: bytes) -> BatchLine:
    return BatchLine.model_validate_json(data)


def decode_batch_result(data: bytes) -> BatchResult:
    return BatchResult.model_validate_json(data)


def decode_presence(data: bytes) -> Presence:
    return Presence.model_validate_json(data)


class AlertKind(StrEnum):
    BUDGET_SOFT = "budget_soft_limit"
    BUDGET_EXCEEDED = "budget_exceeded"
    UNPRICED_MODEL = "unpriced_model"


class Alert(_Wire):
    """Something an operator should hear about, published once per occurrence (budget and
    period, or model and hour) to the alerts stream; admin delivers budget alerts to their
    webhook."""

    alert_id: str
    kind: AlertKind
    at_ms: int
    message: str
    owner: str = ""
    budget_id: str = ""
    period_start: int = 0
    limit: str = ""
    spent: str = ""
    currency: str = ""
    model: str = ""


def decode_alert(data: bytes) -> Alert:
    return Alert.model_validate_json(data)


def decode_body_event(data: bytes) -> BodyEvent:
    return BodyEvent.model_validate_json(data)


def decode_body_reply(data: bytes) -> BodyReply:
    return BodyReply.model_validate_json(data)


def decode_audit_event(data: bytes) -> AuditEvent:
    return AuditEvent.model_validate_json(data)


def decode_analytics_query(data: bytes) -> AnalyticsQuery:
    return AnalyticsQuery.model_validate_json(data)


def decode_analytics_reply(data: bytes) -> AnalyticsReply:
    return AnalyticsReply.model_validate_json(data)


def reply_headers(kind: ReplyKind, seq: int) -> dict[str, str]:
    return {HEADER_KIND: kind.value, HEADER_SEQ: str(seq)}


def chunks_body(pieces: list[bytes]) -> tuple[bytes, str]:
    """A `chunks` reply's body and its `Tollway-Sizes` header value."""
    return b"".join(pieces), ",".join(str(len(piece)) for piece in pieces)


def split_chunks(body: bytes, sizes: str) -> list[bytes]:
    """The chunks of a `chunks` reply; ValueError when the sizes do not add up to the body."""
    pieces: list[bytes] = []
    start = 0
    for size in sizes.split(","):
        if not size.isdigit():
            raise ValueError(f"a chunks reply has unreadable sizes: {sizes!r}")
        end = start + int(size)
        if end > len(body):
            raise ValueError("a chunks reply is shorter than its sizes say")
        pieces.append(body[start:end])
        start = end
    if start != len(body):
        raise ValueError("a chunks reply is longer than its sizes say")
    return pieces
