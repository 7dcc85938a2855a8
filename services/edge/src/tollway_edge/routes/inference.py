"""POST /v1/chat/completions, /v1/completions and /v1/embeddings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_common.contract import Endpoint
from tollway_edge import inference

router = APIRouter(prefix="/v1")


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    return await inference.handle(request, Endpoint.CHAT_COMPLETIONS)


@router.post("/completions")
async def completions(request: Request) -> Response:
    return await inference.handle(request, Endpoint.COMPLETIONS)


@router.post("/embeddings")
async def embeddings(request: Request) -> Response:
    return await inference.handle(request, Endpoint.EMBEDDINGS)
