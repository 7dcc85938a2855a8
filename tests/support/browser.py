"""Headless Chromium (Debian's package) driven by Playwright, for the admin UI tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

# Without the background-networking flags Chromium keeps trying hosts this closed network
# refuses (see the machine notes in ../.library/env).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = os.environ.get("TOLLWAY_CHROMIUM") or shutil.which("chromium")
    if found is None:
        raise RuntimeError(
            "Debian's chromium is not installed: `make browser` installs it (apt-get)"
        )
    return found


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def screenshot_dir(default: Path) -> Path:
    """`make screenshots` points this at docs/screenshots; tests keep theirs in tmp."""
    folder = Path(os.environ.get("TOLLWAY_SCREENSHOTS", default))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
