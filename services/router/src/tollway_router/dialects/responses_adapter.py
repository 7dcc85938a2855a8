"""PLACEHOLDER until helper T's Responses-over-chat translation is merged (the coordinator
replaces this file with T's): a Responses request on a deployment that serves only chat is
refused with a 400 naming the deployments that do serve it natively."""

from __future__ import annotations

from typing import Any

from tollway_common.contract import InferRequest
from tollway_common.control import Deployment
from tollway_common.errors import InvalidRequest
from tollway_router.providers.adapter import Adapter


def responses_over_chat(
    chat: Adapter[Any], infer: InferRequest, deployment: Deployment
) -> Adapter[Any]:
    raise InvalidRequest(
        f"Deployment '{deployment.name}' serves only chat completions, and this gateway "
        "cannot translate the Responses API to chat yet; use an OpenAI or Azure OpenAI model.",
        param="model",
        code="unsupported_endpoint",
    )
