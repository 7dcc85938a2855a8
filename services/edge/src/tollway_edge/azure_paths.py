"""Azure OpenAI's URL forms, read as the OpenAI paths they stand for, so the `AzureOpenAI`
clients reach the same /v1 routes as every other client (`fast_path.py` applies this).

- `/openai/deployments/{deployment}/chat/completions` (and `/completions`, `/embeddings`, and
  every other operation under a deployment): the OpenAI path, with the deployment as the model
  alias. The path decides the model, as on Azure: a `model` in the body does not override it.
- `/openai/v1/deployments/{deployment}/...`: the same; `AzureOpenAI(base_url=".../openai/v1/")`
  sends this form.
- `/openai/v1/...`: Azure's v1 API, which OpenAI clients call with the model in the body.
- `/openai/...` otherwise: Azure's paths outside a deployment (models, files, batches, and the
  Responses API: `AzureOpenAI(...).responses` calls `/openai/responses?api-version=...`).

`api-version` is accepted and not acted on, since Tollway answers the same whatever version a
client names; when it is missing the request is served all the same (Azure answers a bare 404).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from tollway_common.errors import InvalidRequest

PREFIX = "/openai/"
# Where the edge keeps the deployment a path named, in the ASGI scope's state.
DEPLOYMENT_STATE_KEY = "azure_deployment"
# Azure's deployment names are at most 64 characters; aliases on this gateway may be longer.
MAX_DEPLOYMENT_CHARS = 256
# The operations the openai SDK sends under a deployment (`openai/lib/azure.py`), the longer
# first where one ends with another, so `x/chat/completions` is chat on deployment `x`.
DEPLOYMENT_OPERATIONS = (
    "/chat/completions",
    "/completions",
    "/embeddings",
    "/audio/transcriptions",
    "/audio/translations",
    "/audio/speech",
    "/images/generations",
    "/images/edits",
)
# Dated versions (`2024-10-21`, `2025-04-01-preview`) and the named ones (`v1`, `preview`).
_API_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class AzurePath:
    """What an Azure path asks for: the OpenAI path, and the deployment it named (if any)."""

    path: str
    deployment: str | None = None


def read_path(path: str) -> AzurePath:
    """The OpenAI path and deployment `path` (which starts with `PREFIX`) stands for.

    Raises:
        InvalidRequest: the path names an empty or overlong deployment.
    """
    rest = path[len(PREFIX) - 1 :]
    if rest == "/v1" or rest.startswith("/v1/"):
        rest = rest[len("/v1") :]
    if rest.startswith("/deployments/"):
        return _under_deployment(rest[len("/deployments/") :])
    return AzurePath("/v1" + rest)


def _under_deployment(tail: str) -> AzurePath:
    for operation in DEPLOYMENT_OPERATIONS:
        if tail.endswith(operation) and len(tail) > len(operation):
            deployment, path = tail[: -len(operation)], "/v1" + operation
            break
    else:
        deployment, _, operation = tail.partition("/")
        path = f"/v1/{operation}"
    if not deployment.strip("/"):
        raise InvalidRequest(
            "The path names no deployment; call /openai/deployments/<model>/chat/completions.",
            param="deployment",
        )
    if deployment != deployment.strip("/") or len(deployment) > MAX_DEPLOYMENT_CHARS:
        raise InvalidRequest(
            f"'{deployment[:64]}' is no deployment name: one has at most "
            f"{MAX_DEPLOYMENT_CHARS} characters and neither starts nor ends with '/'. "
            "GET /v1/models lists the models your key can use.",
            param="deployment",
        )
    return AzurePath(path, deployment)


def check_api_version(query_string: bytes) -> None:
    """Refuse an `api-version` that cannot be one (a typo or garbage in a client's config).

    Raises:
        InvalidRequest: an `api-version` value is empty or not a version.
    """
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name == "api-version" and not _API_VERSION.fullmatch(value):
            shown = value if len(value) <= 64 else value[:64] + "..."
            raise InvalidRequest(
                f"'{shown}' is not an API version; send one such as 'api-version=2024-10-21', "
                "or leave it out (this gateway answers the same for every version).",
                param="api-version",
            )
