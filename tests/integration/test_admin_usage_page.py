"""The admin UI's usage page and its export check their query values like the API does: a
window that is no number of hours, or a name over the limit, is the page again with a 400 and
the message next to the field, and a bad export link is a 400 in admin's error shape; neither
asks metering anything."""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from tests.support.analytics import analytics_asked
from tests.support.openai_schema import validate_openai
from tests.support.stack import Stack, open_stack

from tollway_admin.ui.usage_filter import MAX_HOURS

ADMIN_TOKEN = "tw-admin-usage-page-0123456789"
WINDOW_ERROR = f"Last: a whole number from 1 to {MAX_HOURS}"


@pytest.fixture(scope="module")
def admin_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    """NATS, Redis and admin only: no metering, so a question asked goes unanswered."""
    workdir = tmp_path_factory.mktemp("usage-page")
    with ExitStack() as cleanup:
        stack = open_stack(workdir, cleanup)
        # Plain http on loopback: the session cookie must not require https here.
        yield stack, stack.start_admin(ADMIN_TOKEN, TOLLWAY_ADMIN_COOKIE_SECURE="false")


@pytest.fixture
async def browser(admin_stack: tuple[Stack, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=admin_stack[1]) as client:
        signed_in = await client.post("/admin/login", data={"token": ADMIN_TOKEN})
        assert signed_in.status_code == 303, signed_in.text
        yield client


async def test_a_good_window_shows_the_page(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/admin/usage", params={"hours": "168", "team_id": "ml"})
    assert page.status_code == 200
    assert "Metering is not running" in page.text
    assert '<option value="168" selected>' in page.text
    assert "/admin/usage/export?format=csv" in page.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hours": "abc"}, WINDOW_ERROR),
        ({"hours": str(MAX_HOURS + 1)}, WINDOW_ERROR),
        ({"hours": "-3"}, WINDOW_ERROR),
        ({"hours": "9" * 5000}, WINDOW_ERROR),
        ({"team_id": "t" * 201}, "at most 200 characters"),
    ],
)
async def test_a_bad_filter_is_the_page_again_with_a_400_and_metering_is_not_asked(
    admin_stack: tuple[Stack, str],
    browser: httpx.AsyncClient,
    params: dict[str, str],
    message: str,
) -> None:
    page, asked = await _asking_nothing(admin_stack[0], browser.get("/admin/usage", params=params))
    assert page.status_code == 400
    assert "<h1>Usage and cost</h1>" in page.text
    assert "Check the fields marked below." in page.text
    assert f'class="field-error" id="err-{next(iter(params))}">{message}' in page.text
    assert "/admin/usage/export" not in page.text, "no export link for a refused filter"
    assert asked == []


@pytest.mark.parametrize(
    ("params", "named"),
    [({"since_ms": "yesterday"}, "since_ms"), ({"deployment": "d" * 201}, "deployment")],
)
async def test_a_bad_export_link_is_a_400_naming_the_field(
    admin_stack: tuple[Stack, str],
    browser: httpx.AsyncClient,
    params: dict[str, str],
    named: str,
) -> None:
    refused, asked = await _asking_nothing(
        admin_stack[0], browser.get("/admin/usage/export", params={"format": "csv", **params})
    )
    assert refused.status_code == 400
    body = refused.json()
    validate_openai("ErrorResponse", body)
    assert (body["error"]["type"], body["error"]["param"]) == ("invalid_request_error", named)
    assert asked == []


async def _asking_nothing(
    stack: Stack, answer: Coroutine[Any, Any, httpx.Response]
) -> tuple[httpx.Response, list[str]]:
    """The response, and the analytics questions admin asked while it answered."""
    async with analytics_asked(stack.nats.url_as("test")) as asked:
        response = await answer
    return response, asked
