from __future__ import annotations

from tests.support.edge_fakes import catalog, runtime

from tollway_common.contract import Principal
from tollway_edge.auth import Caller
from tollway_edge.routes.key_info import usage_this_month


async def test_usage_is_never_asked_for_a_caller_who_names_nobody() -> None:
    # A usage filter with neither key nor user would read the whole gateway's usage; the
    # runtime's NATS client is not connected, so asking at all would fail this test.
    nobody = Caller(principal=Principal(key_id="", user_id="", auth="jwt"), levels=())
    assert await usage_this_month(nobody, runtime(catalog())) is None
