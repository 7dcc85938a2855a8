"""The deterministic built-in demo provider: an OpenAI-compatible server inside the router
(`upstream/demo_server.py`), so it shares the OpenAI translation."""

from __future__ import annotations

from dataclasses import replace

from tollway_common.providers import Provider
from tollway_router.providers import openai
from tollway_router.providers.adapter import Adapter

ADAPTER: Adapter[openai.StreamState] = replace(openai.ADAPTER, type=Provider.FAKE)
