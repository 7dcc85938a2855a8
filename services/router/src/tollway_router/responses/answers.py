"""Answer the edges' reads and deletes of stored responses (`RESPONSES_STORE_SUBJECT`, routers'
queue group): the JSON body the client gets, or an `ErrorReply` (kind `error`).

A response that does not exist, has expired, or belongs to someone else is the same 404, so a
caller cannot learn that another's id exists.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import ValidationError

from tollway_common import contract
from tollway_common.contract import ErrorReply, ReplyKind, ResponseStoreOp, ResponseStoreQuery
from tollway_common.errors import InternalError, InvalidRequest, NotFound, TollwayError
from tollway_common.query_desk import QueryDesk
from tollway_router.responses.records import page
from tollway_router.responses.store import ResponseStore

log = logging.getLogger(__name__)


async def answer(store: ResponseStore, query: ResponseStoreQuery) -> bytes:
    """The body for `query`.

    Raises:
        NotFound: no response by that id that the caller may read.
        InvalidRequest: `after` names no input item of the response.
    """
    record = await store.get(query.response_id, query.principal)
    if record is None:
        raise _not_found(query.response_id)
    if query.op is ResponseStoreOp.GET:
        return orjson.dumps(record.response)
    if query.op is ResponseStoreOp.DELETE:
        if not await store.delete(query.response_id, query.principal):
            raise _not_found(query.response_id)
        deleted: dict[str, Any] = {
            "id": query.response_id,
            "object": "response.deleted",
            "deleted": True,
        }
        return orjson.dumps(deleted)
    items = page(record.input, query.after, query.limit, query.order)
    if items is None:
        raise InvalidRequest(
            f"No input item '{query.after}' in response '{query.response_id}'.", param="after"
        )
    return orjson.dumps(items)


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


class StoreAnswers(QueryDesk):
    """The edges' store queries, one task per query (a KV read must not wait for another's)."""

    def __init__(self, nc: Client, store: ResponseStore) -> None:
        super().__init__(nc, contract.RESPONSES_STORE_SUBJECT, contract.ROUTER_QUEUE_GROUP)
        self._store = store

    async def serve(self, msg: Msg) -> None:
        try:
            query = contract.decode_response_store_query(msg.data)
            body = await answer(self._store, query)
            kind = ReplyKind.CHUNK
        except ValidationError:
            body, kind = _error(InvalidRequest("The store query is malformed.")), ReplyKind.ERROR
        except TollwayError as exc:
            body, kind = _error(exc), ReplyKind.ERROR
        except Exception:
            log.exception("answering a response store query failed")
            failure = InternalError("The response store failed unexpectedly; try again.")
            body, kind = _error(failure), ReplyKind.ERROR
        await self._nc.publish(msg.reply, body, headers={contract.HEADER_KIND: kind.value})


def _error(exc: TollwayError) -> bytes:
    return contract.encode(ErrorReply(status=exc.status, error=exc.body()))
