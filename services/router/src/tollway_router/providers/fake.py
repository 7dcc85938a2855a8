"""The deterministic built-in demo provider: an OpenAI-compatible server inside the router
(`fake_upstream.py`), so it shares the OpenAI translation."""

from __future__ import annotations

from dataclasses import replace

from tollway_router.adapter import Adapter
from tollway_router.providers import openai

ADAPTER: Adapter[openai.StreamState] = replace(openai.ADAPTER, type="fake")
