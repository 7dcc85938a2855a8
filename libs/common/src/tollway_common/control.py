"""Control-plane records kept in NATS KV (models and keys) and how they are keyed there.

Records are written by admin and mirrored in memory by edge and router. Upstream secrets are
only ever secret references (`env:NAME`, `file:/path`); plaintext keys are never stored, only
their SHA-256 hashes.
"""

from __future__ import annotations

import base64
import hashlib
import re

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

SECRET_REF_PATTERN = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:/.+)$")
KEY_PREFIX_LENGTH = 10


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Deployment(_Record):
    """One upstream place that serves a model alias."""

    name: str
    provider: str
    model: str
    api_base: str | None = None
    api_key: str | None = Field(
        default=None, description="A secret reference such as env:OPENAI_API_KEY; never the key."
    )
    weight: int = Field(default=1, ge=0)
    timeout_s: float = Field(default=600.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    api_version: str | None = Field(
        default=None, description="Azure OpenAI api-version, or 'v1' for the /openai/v1/ paths."
    )
    azure_deployment: str | None = Field(
        default=None, description="Azure OpenAI deployment name when it differs from `model`."
    )
    default_max_tokens: int | None = Field(
        default=None, gt=0, description="max_tokens sent when a client gives none (Anthropic)."
    )

    @field_validator("api_key")
    @classmethod
    def _must_be_reference(cls, value: str | None) -> str | None:
        if value is not None and not SECRET_REF_PATTERN.match(value):
            raise ValueError(
                "api_key must be a secret reference like 'env:OPENAI_API_KEY' or "
                "'file:/run/secrets/openai', never the key itself"
            )
        return value


class ModelAlias(_Record):
    """A name clients send as `model`, mapped to the deployments that serve it."""

    name: str
    deployments: list[Deployment] = Field(min_length=1)
    owned_by: str = "tollway"
    created: int = 0


class KeyRecord(_Record):
    """A virtual key as stored: its hash, a recognisable prefix and what it may use."""

    key_id: str
    name: str
    key_hash: str
    prefix: str
    models: list[str] | None = None
    user_id: str = ""
    team_id: str = ""
    org_id: str = ""
    created_at: int = 0


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_prefix(secret: str) -> str:
    return secret[:KEY_PREFIX_LENGTH]


def kv_key_for_alias(alias: str) -> str:
    """KV keys allow only `[-/_=.a-zA-Z0-9]`; aliases such as `llama3.1:8b` need encoding."""
    return base64.urlsafe_b64encode(alias.encode()).decode()


def encode_record(record: BaseModel) -> bytes:
    return orjson.dumps(record.model_dump(mode="json"))


def decode_model_alias(data: bytes) -> ModelAlias:
    return ModelAlias.model_validate_json(data)


def decode_key_record(data: bytes) -> KeyRecord:
    return KeyRecord.model_validate_json(data)
