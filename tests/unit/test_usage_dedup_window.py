"""The usage stream's dedup window outlasts every publisher's retries of one event."""

from tollway_common.nats_client import USAGE_DEDUP_WINDOW_S
from tollway_edge.fallback_usage import PUBLISH_WINDOW_S as EDGE_RETRIES_S
from tollway_router.usage import PUBLISH_WINDOW_S as ROUTER_RETRIES_S


def test_a_retried_usage_publish_lands_within_the_window() -> None:
    assert USAGE_DEDUP_WINDOW_S > ROUTER_RETRIES_S
    assert USAGE_DEDUP_WINDOW_S > EDGE_RETRIES_S
