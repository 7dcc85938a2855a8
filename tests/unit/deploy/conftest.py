"""Fixtures for the deploy/ tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No TOLLWAY_* variable from the developer's shell leaks into a settings check."""
    for key in list(os.environ):
        if key.startswith("TOLLWAY_"):
            monkeypatch.delenv(key)
    return monkeypatch
