"""The adapter that serves a request on a deployment: the provider's own, or, for an endpoint
the provider serves only by translation (`ProviderFacts.translates`), its chat adapter wrapped
in the translation. The one place the router decides between the two (`routing/candidates.py`
asks it for every choice); pure, like the adapters it wraps.

For Anthropic Messages the wrapped adapter sends the request as chat (a stream asking for
usage, so metering stays exact) and turns the answer back into a `Message`, or a stream into
Anthropic SSE frames, one event per chunk (`over_chat.py`, shared with Responses). Usage
reaches the handler on the chunk that carries `message_stop`, never as a chat chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tollway_common.contract import Endpoint, InferRequest
from tollway_common.control import Deployment
from tollway_common.providers import FACTS
from tollway_router import providers
from tollway_router.dialects.messages_request import to_chat
from tollway_router.dialects.messages_response import Asked, to_message
from tollway_router.dialects.messages_stream import MessagesStream
from tollway_router.dialects.over_chat import over_chat
from tollway_router.dialects.responses_adapter import responses_over_chat
from tollway_router.providers import REGISTRY
from tollway_router.providers.adapter import Adapter


def adapter_for(deployment: Deployment, infer: InferRequest) -> Adapter[Any]:
    if not FACTS[deployment.provider].translates(infer.endpoint):
        # Served in the provider's own dialect: its adapter for that endpoint.
        return providers.adapter_for(deployment.provider, infer.endpoint)
    return TRANSLATORS[infer.endpoint](REGISTRY[deployment.provider], infer, deployment)


def messages_over_chat(
    chat: Adapter[Any], infer: InferRequest, deployment: Deployment
) -> Adapter[Any]:
    asked = Asked.of(infer.body)
    return over_chat(
        chat,
        build_call=lambda body, facts, target: chat.build_request(
            Endpoint.CHAT_COMPLETIONS, to_chat(body, facts), facts, target
        ),
        to_answer=lambda completion, usage, target: to_message(
            completion, usage, asked, target.name
        ),
        new_stream=lambda: MessagesStream(asked, deployment.name),
    )


Translator = Callable[[Adapter[Any], InferRequest, Deployment], Adapter[Any]]
# One translator per endpoint `tollway_common.providers.TRANSLATED_OVER` names (a unit test
# keeps the two tables in step).
TRANSLATORS: dict[Endpoint, Translator] = {
    Endpoint.MESSAGES: messages_over_chat,
    Endpoint.RESPONSES: responses_over_chat,
}
