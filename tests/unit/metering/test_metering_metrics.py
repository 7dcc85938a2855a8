from __future__ import annotations

from decimal import Decimal

from prometheus_client import REGISTRY

from tollway_common.contract import Endpoint, Principal, UsageEvent
from tollway_metering.charges import UNPRICED, Charge
from tollway_metering.metrics import record_usage


def _event(model: str, prompt: int, cached: int = 0) -> UsageEvent:
    return UsageEvent(
        request_id=f"req-{model}-{prompt}",
        received_at_ms=1,
        endpoint=Endpoint.CHAT_COMPLETIONS,
        principal=Principal(key_id="k1"),
        model_alias=model,
        provider="openai",
        status_code=200,
        prompt_tokens=prompt,
        completion_tokens=2,
        cached_read_tokens=cached,
    )


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_batch_is_counted_by_model_kind_and_currency() -> None:
    priced = Charge(Decimal("0.25"), "USD", "v1", False)
    events = [_event("m-batch", 10, cached=4), _event("m-batch", 5), _event("m-free", 7)]

    record_usage(events, [priced, priced, UNPRICED])

    tokens = {"model": "m-batch", "provider": "openai"}
    assert _value("tollway_tokens_total", **tokens, kind="prompt") == 15
    assert _value("tollway_tokens_total", **tokens, kind="completion") == 4
    assert _value("tollway_tokens_total", **tokens, kind="cached_read") == 4
    assert _value("tollway_tokens_total", **tokens, kind="reasoning") == 0
    assert _value("tollway_cost_total", **tokens, currency="USD") == 0.5
    assert _value("tollway_unpriced_requests_total", model="m-free") == 1
    assert _value("tollway_unpriced_requests_total", model="m-batch") == 0
