"""Azure OpenAI (`type: azure_openai`): the OpenAI wire on Azure's paths and `api-key` header.

Deployments are addressed as `/openai/deployments/<name>/...?api-version=...`, or, when the
deployment's `api_version` is `v1`, on the newer `/openai/v1/...` paths with the deployment
name as the body's `model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import orjson

from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.control import Deployment
from tollway_common.providers import Provider
from tollway_router.providers import openai, openai_media
from tollway_router.providers.adapter import Adapter, ChunkOut, HttpCall, SseEvent

DEFAULT_API_VERSION = "2024-10-21"


def build_request(
    endpoint: Endpoint, body: Mapping[str, Any], facts: RequestFacts, target: Deployment
) -> HttpCall:
    name = target.azure_deployment or target.model
    call = openai.build_request(endpoint, body, facts, target.model_copy(update={"model": name}))
    suffix = openai.PATHS[endpoint]
    if target.api_version == "v1":
        return replace(call, path=f"/openai/v1{suffix}")
    return replace(
        call,
        path=f"/openai/deployments/{quote(name, safe='')}{suffix}",
        query={"api-version": target.api_version or DEFAULT_API_VERSION},
    )


def parse_stream_event(event: SseEvent, state: openai.StreamState) -> list[ChunkOut]:
    return [chunk for chunk in openai.parse_stream_event(event, state) if not _filter_only(chunk)]


def _filter_only(chunk: ChunkOut) -> bool:
    """Azure opens a stream with a chunk that has no choices, no usage and no id, only
    `prompt_filter_results`: it is neither content nor the usage chunk, and OpenAI clients
    expect no such chunk, so it is dropped."""
    if chunk.usage is not None or chunk.output_chars:
        return False
    return not orjson.loads(chunk.data).get("choices")


ADAPTER: Adapter[openai.StreamState] = Adapter(
    type=Provider.AZURE_OPENAI,
    build_request=build_request,
    parse_response=openai.parse_response,
    new_stream_state=openai.new_stream_state,
    parse_stream_event=parse_stream_event,
    parse_error=openai.parse_error,
    stream_complete=openai.stream_complete,
    relayed_usage=openai_media.relayed_usage,
    auth_header=lambda secret: ("api-key", secret),
)
