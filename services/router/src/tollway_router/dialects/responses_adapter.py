"""OpenAI's Responses API served over a deployment's chat adapter, for every provider that does
not take Responses natively (`messages_adapter.adapter_for` picks it through `TRANSLATORS`).

Like Messages over chat: the wrapped adapter sends the request as chat (a stream asking for
usage, so metering stays exact) and turns the answer back into a `Response`, or a stream into
Responses SSE frames (`event:` and `data:`), one event per frame. Usage reaches the handler
on the closing frame (`response.completed` or `response.incomplete`), whose JSON holds the
whole Response: the response store reads the finished response from exactly that frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tollway_common.contract import Endpoint, InferRequest, RequestFacts
from tollway_common.control import Deployment
from tollway_common.errors import InvalidRequest
from tollway_router.dialects.over_chat import over_chat
from tollway_router.dialects.responses_params import responses_param
from tollway_router.dialects.responses_request import to_chat
from tollway_router.dialects.responses_response import Asked, to_response
from tollway_router.dialects.responses_stream import ResponsesStream
from tollway_router.providers.adapter import Adapter, HttpCall


def responses_over_chat(
    chat: Adapter[Any], infer: InferRequest, deployment: Deployment
) -> Adapter[Any]:
    asked = Asked.of(infer.body)
    return over_chat(
        chat,
        build_call=lambda body, facts, target: _chat_call(chat, body, facts, target),
        to_answer=lambda completion, usage, target: to_response(
            completion, usage, asked, target.name
        ),
        new_stream=lambda: ResponsesStream(asked, deployment.name),
    )


def _chat_call(
    chat: Adapter[Any], body: Mapping[str, Any], facts: RequestFacts, target: Deployment
) -> HttpCall:
    request = to_chat(body, facts)  # its refusals name Responses fields already
    try:
        return chat.build_request(Endpoint.CHAT_COMPLETIONS, request, facts, target)
    except InvalidRequest as refused:
        # The client sent Responses fields, not the chat fields the adapter's refusal names.
        refused.param = responses_param(body, refused.param)
        raise
