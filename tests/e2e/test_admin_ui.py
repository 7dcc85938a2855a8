"""The admin UI in headless Chromium: sign in, issue a key, use it through the openai SDK,
revoke it and see it refused; organisations and teams; a model's history and rollback.
Screenshots of every page land in TOLLWAY_SCREENSHOTS (docs/screenshots via
`make screenshots`)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from openai import APIStatusError, AuthenticationError, NotFoundError, OpenAI
from playwright.sync_api import Browser, Locator, Page, expect
from tests.support.browser import chromium, screenshot_dir
from tests.support.configs import TEST_KEY, UPSTREAM_SECRET
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.oidc_issuer import LocalIssuer
from tests.support.stack import Stack, run_async
from tests.support.usage_stream import health_records, put_health

from tollway_common.contract import DeploymentHealth, HealthState

ADMIN_TOKEN = "tw-admin-ui-test-0123456789abcdef"


T = TypeVar("T")


def _start_admin(stack: Stack) -> str:
    stack.start_metering()
    return stack.start_admin(ADMIN_TOKEN, TOLLWAY_ADMIN_COOKIE_SECURE="false")


@pytest.fixture(scope="module")
def module_admin_url(module_stack: Stack) -> str:
    return _start_admin(module_stack)


@pytest.fixture
def admin_url(shared_stack: Stack, module_admin_url: str) -> str:
    """Admin and metering on the module's shared stack. Tests on it name what they create
    (keys, budgets, organisations) uniquely and look only at those; a test that needs the whole
    stack to itself (counts on the overview, a deployment switched off) takes `own_admin_url`."""
    return module_admin_url


@pytest.fixture
def own_admin_url(stack: Stack) -> str:
    return _start_admin(stack)


class Clients:
    """The admin API and openai SDK clients a test opens, all closed when it ends, passed or
    failed: a failed test's traceback keeps its locals alive, and a keep-alive socket that the
    garbage collector finds later fails whichever test runs then (an unclosed-socket
    ResourceWarning in another module of the same worker)."""

    def __init__(self, opened: ExitStack) -> None:
        self._opened = opened

    def admin(self, url: str) -> httpx.Client:
        headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        return self._opened.enter_context(httpx.Client(base_url=url, headers=headers))

    def openai(self, base_url: str, api_key: str) -> OpenAI:
        client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
        return self._opened.enter_context(client)


@pytest.fixture
def clients() -> Iterator[Clients]:
    with ExitStack() as opened:
        yield Clients(opened)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def _reload_until(page: Page, shown: str | Locator, timeout_s: float = 60.0) -> None:
    """Metering stores usage a second or two after the answer (longer on a loaded machine,
    where chDB's first inserts are slow): reload until `shown` (a text in the page, or an
    element) is there, and say what the page showed if it never is."""
    deadline = time.monotonic() + timeout_s
    while not (
        shown in page.locator("main").inner_text() if isinstance(shown, str) else shown.count()
    ):
        if time.monotonic() > deadline:
            text = page.locator("main").inner_text()
            raise AssertionError(f"{shown!r} never appeared; the page shows:\n{text}")
        page.wait_for_timeout(500)
        page.reload()


@contextmanager
def _page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A page in a context of its own: no cookie or session carries over between tests."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, admin_url: str) -> Iterator[Page]:
    with _page(browser, admin_url) as page:
        yield page


@pytest.fixture
def own_page(browser: Browser, own_admin_url: str) -> Iterator[Page]:
    with _page(browser, own_admin_url) as page:
        yield page


def _first_call_once_known(call: Callable[[], T], timeout_s: float = 5.0) -> T:
    """Make a new key's first call: the edge learns a key from its KV watch a moment after
    admin stored it, so a call made at once can still meet a 401."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except AuthenticationError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sign_in(page: Page, token: str = ADMIN_TOKEN) -> None:
    page.goto("/admin/login")
    page.get_by_label("Admin token or OIDC access token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_issue_use_and_revoke_a_key(
    page: Page, shared_stack: Stack, tmp_path: Path, clients: Clients
) -> None:
    shots = screenshot_dir(tmp_path / "screenshots")
    page.goto("/admin/keys")
    expect(page).to_have_url("/admin/login")  # nobody signed in yet
    page.screenshot(path=shots / "sign-in.png")
    _sign_in(page, "wrong-token")
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    _sign_in(page)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    replicas = page.get_by_role("table").filter(has_text="Service replicas")
    for _ in range(8):  # replicas announce themselves every 5 s
        if "edge" in replicas.inner_text():
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(replicas).to_contain_text("edge")
    expect(replicas).to_contain_text("admin")

    page.get_by_role("link", name="Keys").click()
    page.get_by_label("Name").fill("browser-app")
    page.get_by_label("Allowed models").fill("tollway-demo")
    page.get_by_label("Requests per minute").fill("600")
    page.get_by_role("button", name="Issue key").click()
    secret = page.get_by_label("New key").input_value()
    assert secret.startswith("tw-")
    page.screenshot(path=shots / "keys.png", full_page=True)

    client = clients.openai(shared_stack.base_url, secret)
    reply = _first_call_once_known(
        lambda: client.chat.completions.create(
            model="tollway-demo", messages=[{"role": "user", "content": "from the browser"}]
        )
    )
    assert reply.choices[0].message.content
    assert reply.usage is not None
    key_id = page.locator("td").filter(has_text="browser-app").locator("small").inner_text()

    page.get_by_role("link", name="Usage").click()
    page.get_by_label("By", exact=True).select_option("key_id")
    page.get_by_role("button", name="Show").click()
    usage_row = page.get_by_role("row").filter(has_text="browser-app")
    _reload_until(page, usage_row)
    expect(usage_row).to_contain_text(str(reply.usage.prompt_tokens))
    # The key by its name, its id on hover.
    expect(usage_row.get_by_title(key_id)).to_have_text("browser-app")
    for chart in ("Requests per hour by key", "Tokens per hour by key", "Cost per hour by key"):
        expect(page.get_by_role("img", name=chart)).to_be_visible()
    page.screenshot(path=shots / "usage.png", full_page=True)
    export = page.request.get(
        page.url.replace("/admin/usage?", "/admin/usage/export?format=focus&")
    )
    assert export.ok
    assert export.text().startswith("BilledCost,EffectiveCost")
    assert key_id in export.text()
    page.get_by_label("By", exact=True).select_option("deployment")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("columnheader", name="Deployment")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="demo-fake")).to_be_visible()

    page.goto("/admin/keys")
    assert secret not in page.content(), "the secret is never shown again"
    row = page.get_by_role("row").filter(has_text="browser-app")
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    deadline = time.monotonic() + 1.0
    with pytest.raises(AuthenticationError, match="revoked"):  # noqa: PT012
        while time.monotonic() < deadline:
            client.models.list()
            time.sleep(0.02)

    page.get_by_role("link", name="Audit log").click()
    _reload_until(page, "revoked_at")
    change = page.get_by_role("row").filter(has_text=key_id).filter(has_text="key.update")
    expect(change).to_contain_text("revoked_at: 0 →")
    page.screenshot(path=shots / "audit.png", full_page=True)


def test_the_overview_shows_traffic_spend_and_a_budget_near_its_limit(
    own_page: Page, stack: Stack, own_admin_url: str, tmp_path: Path, clients: Clients
) -> None:
    """On a stack of its own: the tiles count every key and token the stack has seen."""
    page = own_page
    shots = screenshot_dir(tmp_path / "screenshots")
    api = clients.admin(own_admin_url)
    price = {"model": "tollway-demo", "input_per_mtok": "1000", "output_per_mtok": "1000"}
    assert api.post("/api/v1/prices", json=price).status_code == 201
    assert api.post(
        "/api/v1/budgets", json={"budget_id": "tiny", "amount": "1.00", "soft_threshold": 0.001}
    ).is_success
    key = api.post("/api/v1/keys", json={"name": "spender", "budget_ids": ["tiny"]}).json()
    client = clients.openai(stack.base_url, key["key"])
    reply = _first_call_once_known(
        lambda: client.chat.completions.create(
            model="tollway-demo",
            messages=[{"role": "user", "content": "spend a little"}],
            max_tokens=16,
        )
    )
    assert reply.usage is not None

    _sign_in(page)
    _reload_until(page, "Budget tiny of key spender")
    alarms = page.get_by_role("region", name="Alarms")
    expect(alarms).to_contain_text("Budget tiny of key spender")
    expect(alarms).to_contain_text("of 1.00 USD spent")
    tiles = page.get_by_role("list", name="Traffic")
    expect(tiles.get_by_role("listitem").filter(has_text="tokens today")).to_contain_text(
        str(reply.usage.total_tokens)
    )
    expect(tiles.get_by_role("listitem").filter(has_text="spend today")).to_contain_text("USD")
    expect(tiles.get_by_role("listitem").filter(has_text="active keys")).to_have_text(
        re.compile(r"^\s*3\s+active keys")  # two bootstrap keys and "spender"
    )
    rate = tiles.get_by_role("listitem").filter(has_text="requests/s").locator(".figure")
    expect(rate).to_have_text(re.compile(r"[1-9]"))  # one request in five minutes is not 0
    page.screenshot(path=shots / "overview.png", full_page=True)


def test_a_keys_page_charts_its_usage_and_edits_its_scopes_limits_and_budgets(
    page: Page, shared_stack: Stack, admin_url: str, tmp_path: Path, clients: Clients
) -> None:
    shots = screenshot_dir(tmp_path / "screenshots")
    api = clients.admin(admin_url)
    assert api.post("/api/v1/budgets", json={"budget_id": "monthly", "amount": "50"}).is_success
    key = api.post("/api/v1/keys", json={"name": "charted"}).json()
    client = clients.openai(shared_stack.base_url, key["key"])
    _first_call_once_known(
        lambda: client.chat.completions.create(
            model="tollway-demo", messages=[{"role": "user", "content": "count me"}]
        )
    )
    _sign_in(page)
    page.get_by_role("link", name="Keys").click()
    page.get_by_role("link", name="charted").click()
    _reload_until(page, page.get_by_role("img", name="Requests per day by charted"))
    expect(page.get_by_role("img", name="Requests per day by charted")).to_be_visible()
    expect(page.get_by_role("img", name="Cost per day by charted")).to_be_visible()

    page.get_by_label("Allowed models").fill("gpt-test")
    page.get_by_label("Requests per minute").fill("5")
    page.get_by_label("monthly").check()
    page.screenshot(path=shots / "key-detail.png", full_page=True)
    page.get_by_role("button", name="Save key").click()
    expect(page.get_by_role("status")).to_contain_text("Key charted saved")
    shown = api.get(f"/api/v1/keys/{key['key_id']}").json()
    assert shown["policy"]["allow_models"] == ["gpt-test"]
    assert (shown["limits"]["rpm"], shown["budget_ids"]) == (5, ["monthly"])
    # Edges pick the change up from their KV watch within a second, like a revocation.
    deadline = time.monotonic() + 1.0
    with pytest.raises(APIStatusError, match="does not allow model 'tollway-demo'"):  # noqa: PT012
        while time.monotonic() < deadline:
            client.chat.completions.create(
                model="tollway-demo", messages=[{"role": "user", "content": "no longer"}]
            )
            time.sleep(0.02)


def test_a_user_is_created_and_a_budget_burns_down_as_their_key_spends(
    page: Page, shared_stack: Stack, admin_url: str, tmp_path: Path, clients: Clients
) -> None:
    shots = screenshot_dir(tmp_path / "screenshots")
    api = clients.admin(admin_url)
    # Not acme/ml: the rollback test creates those through the forms on the same stack.
    assert api.post("/api/v1/orgs", json={"org_id": "globex", "name": "Globex"}).is_success
    assert api.post("/api/v1/teams", json={"team_id": "research", "org_id": "globex"}).is_success
    price = {"model": "tollway-demo", "input_per_mtok": "1000", "output_per_mtok": "1000"}
    assert api.post("/api/v1/prices", json=price).status_code == 201
    assert api.post("/api/v1/budgets", json={"budget_id": "ada-monthly", "amount": "5"}).is_success

    _sign_in(page)
    page.get_by_role("link", name="Users").click()

    def create_ada() -> None:
        page.get_by_label("Id").fill("ada")
        page.get_by_label("Name").fill("Ada Lovelace")
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_label("Organisation").select_option("globex")
        page.get_by_label("Team").select_option("research")
        page.get_by_role("button", name="Create user").click()

    create_ada()
    expect(page.get_by_role("status")).to_contain_text("User ada created")
    create_ada()
    expect(page.get_by_role("alert")).to_contain_text("The user 'ada' already exists")
    user_row = page.get_by_role("row").filter(has_text="ada@example.com")
    expect(user_row).to_contain_text("Ada Lovelace")
    expect(user_row).to_contain_text("research")
    assert api.get("/api/v1/users/ada").json()["name"] == "Ada Lovelace"

    key = api.post(
        "/api/v1/keys",
        json={"name": "ada-app", "user_id": "ada", "budget_ids": ["ada-monthly"]},
    ).json()
    client = clients.openai(shared_stack.base_url, key["key"])
    client.chat.completions.create(
        model="tollway-demo", messages=[{"role": "user", "content": "burn"}], max_tokens=16
    )

    page.get_by_role("link", name="Budgets").click()
    chart = page.get_by_role("img", name=re.compile(r"^Burn-down of budget ada-monthly for key"))
    for _ in range(30):  # metering stores the row within a second or two
        if "0.0000 of 5" not in (chart.get_attribute("aria-label") or "0.0000 of 5"):
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("aria-label", re.compile(r"0\.0*[1-9]\d* of 5 USD spent"))
    expect(chart.locator("path.spent")).to_have_attribute("d", re.compile(r"V"))
    page.screenshot(path=shots / "budget-burn-down.png", full_page=True)
    page.get_by_role("link", name="Users").click()
    expect(user_row.locator("td").last).not_to_have_text("0")  # ada's key spent
    page.screenshot(path=shots / "users.png", full_page=True)


def test_forms_need_the_sessions_csrf_token(page: Page, admin_url: str) -> None:
    _sign_in(page)
    forged = page.request.post(f"{admin_url}/admin/keys", form={"name": "forged", "csrf": "x"})
    assert forged.status == 403
    page.goto("/admin/keys")
    assert "forged" not in page.content()


def test_orgs_teams_and_a_model_rollback(
    page: Page, admin_url: str, tmp_path: Path, clients: Clients
) -> None:
    shots = screenshot_dir(tmp_path / "screenshots")
    _sign_in(page)
    page.get_by_role("link", name="Teams").click()
    page.locator("#org_id").fill("acme")
    page.locator("#org_name").fill("Acme")
    page.get_by_role("button", name="Create organisation").click()
    expect(page.get_by_role("status")).to_contain_text("acme created")
    page.locator("#team_id").fill("ml")
    page.get_by_label("Organisation", exact=True).select_option("acme")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("status")).to_contain_text("ml created")
    page.screenshot(path=shots / "teams.png", full_page=True)

    page.get_by_role("link", name="Budgets").click()
    page.get_by_label("Id").fill("ml-monthly")
    page.get_by_label("Amount").fill("not money")
    page.get_by_role("button", name="Create budget").click()
    expect(page.get_by_role("alert")).to_contain_text("amount")
    page.get_by_label("Id").fill("ml-monthly")
    page.get_by_label("Amount").fill("250.00")
    page.get_by_label("At 100 %, serve instead").select_option("tollway-demo")
    page.get_by_role("button", name="Create budget").click()
    expect(page.get_by_role("status")).to_contain_text("ml-monthly created")
    expect(page.get_by_role("row").filter(has_text="ml-monthly")).to_contain_text(
        "downshift to tollway-demo"
    )
    page.screenshot(path=shots / "budgets.png", full_page=True)

    api = clients.admin(admin_url)
    model = api.get("/api/v1/models/tollway-demo").json()
    edited = {**model, "owned_by": "platform-team"}
    edited.pop("revision")
    assert api.put("/api/v1/models/tollway-demo", json=edited).status_code == 200

    page.get_by_role("link", name="Models").click()
    page.get_by_role("link", name="History of tollway-demo").click()
    expect(page.locator(".diff").first).to_contain_text('+  "owned_by": "platform-team"')
    page.screenshot(path=shots / "model-history.png", full_page=True)
    page.get_by_role("button", name="Roll back to this revision").first.click()
    expect(page.get_by_role("status")).to_contain_text("rolled back")
    assert api.get("/api/v1/models/tollway-demo").json()["owned_by"] == "tollway"


def test_an_operator_disables_and_enables_a_deployment_from_the_models_page(
    own_page: Page, stack: Stack, tmp_path: Path, clients: Clients
) -> None:
    """On a stack of its own: it switches deployments off and writes routers' records."""
    page = own_page
    shots = screenshot_dir(tmp_path / "screenshots")
    _sign_in(page)
    page.get_by_role("link", name="Models").click()
    deployment = page.locator('li[data-deployment="demo-fake"]')
    expect(deployment.locator(".state")).to_have_text("active")
    page.get_by_role("button", name="Disable demo-fake of tollway-demo").click()
    expect(page.get_by_role("status")).to_contain_text("demo-fake of tollway-demo disabled")
    expect(deployment.locator(".state")).to_have_text("inactive")
    expect(deployment).to_contain_text("disabled by an operator")
    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_role("region", name="Alarms")).to_contain_text(
        "Deployment demo-fake of tollway-demo is inactive: disabled by an operator"
    )
    page.get_by_role("link", name="Models").click()
    (record,) = run_async(health_records(stack.nats.url_as("test"), "tollway-demo"))
    assert (record.state, record.operator) == (HealthState.INACTIVE, True)
    client = clients.openai(stack.base_url, TEST_KEY)
    with pytest.raises(APIStatusError, match="disabled by an operator"):
        client.chat.completions.create(
            model="tollway-demo", messages=[{"role": "user", "content": "anyone there?"}]
        )
    page.screenshot(path=shots / "models.png", full_page=True)

    # A router's record shows up without a reload (the table refreshes itself).
    run_async(
        put_health(
            stack.nats.url_as("test"),
            DeploymentHealth(
                alias="gpt-test",
                deployment="fake-openai",
                state=HealthState.INVALID,
                reason="the upstream rejected the credential (401/403)",
                updated_by="router-1",
            ),
        )
    )
    expect(page.locator('li[data-deployment="fake-openai"] .state')).to_have_text(
        "invalid", timeout=10_000
    )

    page.get_by_role("button", name="Enable demo-fake of tollway-demo").click()
    expect(page.get_by_role("status")).to_contain_text("enabled")
    expect(deployment.locator(".state")).to_have_text("active")
    reply = client.chat.completions.create(
        model="tollway-demo", messages=[{"role": "user", "content": "back?"}]
    )
    assert reply.choices[0].message.content


def test_a_model_is_edited_with_a_diff_shown_before_saving(
    page: Page, admin_url: str, tmp_path: Path, clients: Clients
) -> None:
    shots = screenshot_dir(tmp_path / "screenshots")
    _sign_in(page)
    page.get_by_role("link", name="Models").click()
    page.get_by_role("link", name="Edit gpt-test").click()
    page.get_by_label("Weight of fake-openai").fill("lots")
    page.get_by_role("button", name="Preview changes").click()
    expect(page.get_by_role("alert")).to_contain_text("weight")
    page.get_by_label("Weight of fake-openai").fill("3")
    page.get_by_label("Fallback aliases").fill("no-such-alias")
    page.get_by_role("button", name="Preview changes").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown model 'no-such-alias'")
    expect(page.get_by_label("Weight of fake-openai")).to_have_value("3")  # input is kept

    page.get_by_label("Fallback aliases").fill("tollway-demo")
    page.get_by_label("Routing strategy").select_option("priority")
    page.get_by_label("Input", exact=True).fill("2.5")
    page.get_by_label("Output", exact=True).fill("10")
    page.get_by_role("button", name="Preview changes").click()
    model_diff = page.get_by_label("Changes to the model")
    expect(model_diff).to_contain_text('+  "strategy": "priority"')
    expect(model_diff).to_contain_text('+  "fallbacks": [')
    expect(model_diff).to_contain_text('+      "weight": 3')
    expect(page.get_by_label("Changes to the price")).to_contain_text('+  "input_per_mtok": "2.5"')
    page.screenshot(path=shots / "model-edit.png", full_page=True)
    api = clients.admin(admin_url)
    assert api.get("/api/v1/models/gpt-test").json()["strategy"] != "priority", "not saved yet"

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("gpt-test saved")
    model = api.get("/api/v1/models/gpt-test").json()
    assert (model["strategy"], model["fallbacks"]) == ("priority", ["tollway-demo"])
    assert model["deployments"][0]["weight"] == 3
    price = api.get("/api/v1/prices/gpt-test").json()
    assert (price["input_per_mtok"], price["output_per_mtok"]) == ("2.5", "10")
    assert price["version"], "a new price gets a version for the usage rows"


def test_an_edit_opened_before_another_change_is_refused(
    page: Page, admin_url: str, clients: Clients
) -> None:
    _sign_in(page)
    page.goto("/admin/models/gpt-test/edit")
    api = clients.admin(admin_url)
    model = api.get("/api/v1/models/gpt-test").json()
    model.pop("revision")
    assert api.put("/api/v1/models/gpt-test", json={**model, "owned_by": "x"}).status_code == 200
    page.get_by_label("Weight of fake-openai").fill("5")
    page.get_by_role("button", name="Preview changes").click()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("read it again")


def test_the_deployment_switch_needs_the_sessions_csrf_token(page: Page, admin_url: str) -> None:
    _sign_in(page)
    forged = page.request.post(
        f"{admin_url}/admin/models/tollway-demo/deployments/demo-fake/disable",
        form={"csrf": "x"},
    )
    assert forged.status == 403, "the switch is CSRF-protected"


PAGES = [
    "/admin",
    "/admin/keys",
    "/admin/teams",
    "/admin/users",
    "/admin/budgets",
    "/admin/models",
    "/admin/models/tollway-demo/history",
    "/admin/models/gpt-test/edit",
    "/admin/usage",
    "/admin/audit",
]


def test_every_page_fits_a_phone_screen(browser: Browser, admin_url: str, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path / "screenshots")
    context = browser.new_context(base_url=admin_url, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto("/admin/login")
        assert _overflow(page) == 0, "/admin/login"
        _sign_in(page)
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        for path in PAGES:
            page.goto(path)
            assert _overflow(page) == 0, path
            assert _unlabelled(page) == [], f"{path}: every field has a label"
            if path == "/admin/models":
                page.screenshot(path=shots / "models-phone.png", full_page=True)
    finally:
        context.close()


def _overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the screen (0 when nothing scrolls sideways)."""
    width: int = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width


def _unlabelled(page: Page) -> list[str]:
    names: list[str] = page.evaluate(
        """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter((field) => !field.labels.length && !field.getAttribute('aria-label'))
            .map((field) => field.name)"""
    )
    return names


def test_sign_in_through_the_issuers_login_page(browser: Browser, shared_stack: Stack) -> None:
    with LocalIssuer() as issuer:
        admin_url = shared_stack.start_admin(
            ADMIN_TOKEN,
            TOLLWAY_ADMIN_COOKIE_SECURE="false",
            TOLLWAY_ADMIN_OIDC__ISSUER=issuer.url,
            TOLLWAY_ADMIN_OIDC__AUDIENCE="api://tollway-admin",
            TOLLWAY_ADMIN_OIDC_CLIENT_ID="tollway-admin-ui",
        )
        issuer.login_claims = {"sub": "alice", "roles": ["viewer"]}
        page = browser.new_page(base_url=admin_url)
        page.goto("/admin/login")
        page.get_by_role("link", name="Sign in with your organisation (OIDC)").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.locator(".who")).to_have_text("alice (viewer)")
        page.goto("/admin/keys")
        expect(page.get_by_role("button", name="Issue key")).to_have_count(0)
        page.goto("/admin/models")
        expect(page.locator('li[data-deployment="demo-fake"] .state')).to_have_text("active")
        expect(page.get_by_role("button", name="Disable demo-fake of tollway-demo")).to_have_count(
            0
        )
        replay = page.request.get(f"{admin_url}/admin/oidc/callback?code=x&state=y")
        assert "/admin/login" in replay.url, "a callback that did not start here is refused"
        page.close()


def test_a_model_is_created_from_the_browser_and_serves_through_the_sdk(
    page: Page,
    shared_stack: Stack,
    shared_upstream: FakeOpenAIServer,
    admin_url: str,
    tmp_path: Path,
    clients: Clients,
) -> None:
    """A new model with its deployment, secret reference, capabilities and price; then a
    second deployment on it and an alias of it, each previewed before it is stored."""
    shots = screenshot_dir(tmp_path / "screenshots")
    api = clients.admin(admin_url)
    reference = f"file:{shared_stack.workdir / 'secrets' / 'upstream'}"
    _sign_in(page)
    page.get_by_role("link", name="Models").click()
    page.get_by_role("link", name="New model").click()
    page.get_by_label("Model name").fill("browser-made")
    page.get_by_label("Deployment name", exact=True).fill("browser-east")
    page.get_by_label("Provider").select_option("openai")
    page.get_by_label("Upstream model").fill("gpt-4o-mini")
    page.get_by_label("Endpoint URL").fill(shared_upstream.base_url)
    raw_key = "sk-typed-into-the-page-0123456789"
    page.get_by_label("API key (secret reference)").fill(raw_key)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#err-d-api_key")).to_contain_text("never the secret itself")
    expect(page.get_by_label("API key (secret reference)")).to_have_value("")
    assert raw_key not in page.content(), "a key typed into the page is never echoed"
    page.get_by_label("API key (secret reference)").fill("env:HOME")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#err-d-api_key")).to_contain_text("is not allowed")

    page.get_by_label("API key (secret reference)").fill(reference)
    page.get_by_label("Vision").select_option("yes")
    page.get_by_label("Input", exact=True).fill("1")
    page.get_by_label("Output", exact=True).fill("2")
    page.get_by_label("Per image made").fill("0.04")
    page.get_by_label("Batch multiplier").fill("0.5")
    page.get_by_role("button", name="Preview").click()
    stored = page.get_by_label("The new model")
    expect(stored).to_contain_text('+  "name": "browser-made"')
    expect(stored).to_contain_text(f'+      "api_key": "{reference}"')
    expect(stored).to_contain_text('+        "vision": true')
    expect(page.get_by_label("Changes to the price")).to_contain_text('+  "per_image": "0.04"')
    page.screenshot(path=shots / "model-new.png", full_page=True)
    assert api.get("/api/v1/models/browser-made").status_code == 404, "not saved yet"

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Model browser-made created")
    expect(page.get_by_role("row").filter(has_text="browser-made")).to_contain_text("browser-east")
    model = api.get("/api/v1/models/browser-made").json()
    (deployment,) = model["deployments"]
    assert (deployment["name"], deployment["api_key"]) == ("browser-east", reference)
    assert deployment["capabilities"]["vision"] is True
    price = api.get("/api/v1/prices/browser-made").json()
    assert (price["per_image"], price["batch_multiplier"]) == ("0.04", "0.5")
    assert price["version"]

    client = clients.openai(shared_stack.base_url, TEST_KEY)
    deadline = time.monotonic() + 5.0
    while True:  # the edge's catalog picks the new model up from its KV watch
        try:
            reply = client.chat.completions.create(
                model="browser-made", messages=[{"role": "user", "content": "made in a browser"}]
            )
            break
        except NotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert reply.choices[0].message.content
    sent = shared_upstream.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_SECRET}"

    page.goto("/admin/models/browser-made/edit")
    page.get_by_role("link", name="Add a deployment").click()
    page.get_by_label("Deployment name", exact=True).fill("browser-west")
    page.get_by_label("Upstream model").fill("gpt-4o")
    page.get_by_label("Endpoint URL").fill(shared_upstream.base_url)
    page.get_by_label("API key (secret reference)").fill(reference)
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_label("Changes to the model")).to_contain_text(
        '+      "name": "browser-west"'
    )
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("browser-west added to browser-made")
    model = api.get("/api/v1/models/browser-made").json()
    assert [d["name"] for d in model["deployments"]] == ["browser-east", "browser-west"]

    page.goto("/admin/models/new-alias")
    page.get_by_label("Alias", exact=True).fill("browser-alias")
    page.get_by_label("Stands for").select_option("browser-made")
    page.get_by_label("Copy the model's price").check()
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_label("The new alias")).to_contain_text(
        '+      "name": "browser-east-browser-alias"'
    )
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Alias browser-alias of browser-made")
    alias = api.get("/api/v1/models/browser-alias").json()
    assert [d["name"] for d in alias["deployments"]] == [
        "browser-east-browser-alias",
        "browser-west-browser-alias",
    ]
    assert api.get("/api/v1/prices/browser-alias").json()["per_image"] == "0.04"


def test_a_viewer_sees_the_new_model_form_but_cannot_create(
    browser: Browser, shared_stack: Stack, clients: Clients
) -> None:
    with LocalIssuer() as issuer:
        admin_url = shared_stack.start_admin(
            ADMIN_TOKEN,
            TOLLWAY_ADMIN_COOKIE_SECURE="false",
            TOLLWAY_ADMIN_OIDC__ISSUER=issuer.url,
            TOLLWAY_ADMIN_OIDC__AUDIENCE="api://tollway-admin",
            TOLLWAY_ADMIN_OIDC_CLIENT_ID="tollway-admin-ui",
        )
        issuer.login_claims = {"sub": "vera", "roles": ["viewer"]}
        with _page(browser, admin_url) as page:
            page.goto("/admin/login")
            page.get_by_role("link", name="Sign in with your organisation (OIDC)").click()
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            page.goto("/admin/models/new")
            expect(page.get_by_text("Creating a model needs the 'admin' role.")).to_be_visible()
            expect(page.get_by_role("button", name="Preview")).to_have_count(0)
            csrf = page.locator('input[name="csrf"]').first.input_value()
            forged = page.request.post(
                f"{admin_url}/admin/models/new",
                form={
                    "csrf": csrf,
                    "action": "save",
                    "name": "viewer-made",
                    "d.name": "viewer-fake",
                    "d.provider": "fake",
                    "d.model": "demo-1",
                },
            )
            assert forged.status == 403
            assert "needs the &#39;admin&#39; role" in forged.text()
            policy = page.request.post(
                f"{admin_url}/admin/teams/anything/policy", form={"csrf": csrf}
            )
            assert policy.status == 403
    api = clients.admin(admin_url)
    assert api.get("/api/v1/models/viewer-made").status_code == 404


def test_a_team_policy_is_edited_with_errors_next_to_their_fields(
    page: Page, shared_stack: Stack, admin_url: str, tmp_path: Path, clients: Clients
) -> None:
    shots = screenshot_dir(tmp_path / "screenshots")
    api = clients.admin(admin_url)
    assert api.post("/api/v1/orgs", json={"org_id": "initech", "name": "Initech"}).is_success
    assert api.post("/api/v1/teams", json={"team_id": "tps", "org_id": "initech"}).is_success
    key = api.post(
        "/api/v1/keys", json={"name": "tps-app", "team_id": "tps", "org_id": "initech"}
    ).json()
    _sign_in(page)
    page.get_by_role("link", name="Teams").click()
    page.get_by_role("link", name="Edit the policy of team tps").click()
    page.get_by_label("Max tokens per request").fill("0")
    page.get_by_label("Requests per minute").fill("fast")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Preview").click()
    assert answer.value.status == 400, "a bad value is the client's error"
    expect(page.locator("#err-max_tokens_cap")).to_contain_text("greater than 0")
    expect(page.locator("#err-rpm")).to_contain_text("integer")
    expect(page.get_by_label("Requests per minute")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Max tokens per request").fill("64")
    page.get_by_label("Requests per minute").fill("600")
    page.get_by_label("Allowed models").fill("tollway-demo")
    page.get_by_role("button", name="Preview").click()
    diff = page.get_by_label("Changes to the team")
    expect(diff).to_contain_text('+    "max_tokens_cap": 64')
    expect(diff).to_contain_text('+    "rpm": 600')
    page.screenshot(path=shots / "policy-edit.png", full_page=True)
    assert api.get("/api/v1/teams/tps").json()["policy"]["max_tokens_cap"] is None
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("The policy of team tps was saved")
    expect(page.get_by_role("row").filter(has_text="Initech").first).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="tps").first).to_contain_text(
        "models tollway-demo; ≤ 64 tokens"
    )
    team = api.get("/api/v1/teams/tps").json()
    assert (team["policy"]["allow_models"], team["limits"]["rpm"]) == (["tollway-demo"], 600)

    client = clients.openai(shared_stack.base_url, key["key"])
    deadline = time.monotonic() + 1.0
    with pytest.raises(APIStatusError, match="does not allow model 'gpt-test'"):  # noqa: PT012
        while time.monotonic() < deadline:
            client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "outside the policy"}]
            )
            time.sleep(0.02)


def test_the_audit_log_is_filtered_and_downloaded_with_the_filter(
    page: Page, admin_url: str, tmp_path: Path, clients: Clients
) -> None:
    shots = screenshot_dir(tmp_path / "screenshots")
    api = clients.admin(admin_url)
    assert api.post("/api/v1/orgs", json={"org_id": "umbrella"}).is_success
    assert api.put("/api/v1/orgs/umbrella", json={"org_id": "umbrella", "name": "U"}).is_success
    today = time.strftime("%Y-%m-%d", time.gmtime())
    _sign_in(page)
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("From (UTC)").fill(today)
    page.get_by_label("To (UTC, inclusive)").fill(today)
    page.get_by_label("Action").fill("org.update")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("row").filter(has_text="umbrella")
    _reload_until(page, rows)
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("org.update")
    actions = page.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert set(actions) == {"org.update"}, actions
    page.screenshot(path=shots / "audit-filtered.png", full_page=True)

    csv_link = page.get_by_role("link", name="CSV")
    export = page.request.get(str(csv_link.get_attribute("href")))
    assert export.ok
    header, *lines = export.text().splitlines()
    assert header.startswith("at,actor_kind,actor_id,action")
    assert {line.split(",")[3] for line in lines} == {"org.update"}
    assert any(",umbrella," in line for line in lines)
    jsonl = page.request.get(str(page.get_by_role("link", name="JSON lines").get_attribute("href")))
    events = [json.loads(line) for line in jsonl.text().splitlines()]
    assert {event["action"] for event in events} == {"org.update"}
    assert len(events) == len(lines)

    page.get_by_label("From (UTC)").fill("2020-01-02")
    page.get_by_label("To (UTC, inclusive)").fill("2020-01-01")
    with page.expect_response(lambda r: "/admin/audit?" in r.url) as answer:
        page.get_by_role("button", name="Filter").click()
    assert answer.value.status == 400
    expect(page.locator("#err-to")).to_contain_text("on or after")
    refused = page.request.get(f"{admin_url}/admin/audit/export?from=not-a-date&format=csv")
    assert refused.status == 400


NEW_FORMS = [
    "/admin/models/new",
    "/admin/models/new-alias",
    "/admin/models/gpt-test/deployments/new",
]


def test_the_new_forms_fit_a_phone_screen(browser: Browser, admin_url: str) -> None:
    context = browser.new_context(base_url=admin_url, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        _sign_in(page)
        for path in NEW_FORMS:
            page.goto(path)
            assert _overflow(page) == 0, path
            assert _unlabelled(page) == [], f"{path}: every field has a label"
    finally:
        context.close()


def test_an_operator_finds_a_request_and_reads_its_page(
    page: Page, shared_stack: Stack, admin_url: str, tmp_path: Path, clients: Clients
) -> None:
    """The request log: search by request id, open the request, read its attempts, cost and
    the redacted bodies its key's policy logged; both pages fit a phone."""
    shots = screenshot_dir(tmp_path / "screenshots")
    api = clients.admin(admin_url)
    key = api.post(
        "/api/v1/keys", json={"name": "logged-in-browser", "policy": {"log_bodies": True}}
    ).json()
    client = clients.openai(shared_stack.base_url, key["key"])
    raw = client.chat.completions.with_raw_response.create(
        model="tollway-demo",
        messages=[{"role": "user", "content": "write to ann@example.com please"}],
    )
    request_id = raw.headers["x-request-id"]
    assert raw.parse().choices[0].message.content

    _sign_in(page)
    page.get_by_role("link", name="Requests").click()
    page.get_by_label("Request id").fill(request_id[:18])
    page.get_by_role("button", name="Search").click()
    link = page.get_by_role("link", name=request_id)
    _reload_until(page, link)
    row = page.get_by_role("row").filter(has=link)
    expect(row).to_contain_text("tollway-demo")
    expect(row).to_contain_text(key["key_id"])
    page.screenshot(path=shots / "requests.png", full_page=True)

    link.click()
    expect(page.get_by_role("heading", name="Request", exact=True)).to_be_visible()
    _reload_until(page, page.get_by_label("Request body"))  # bodies arrive on their own stream
    facts = page.get_by_label("Request", exact=True)
    expect(facts).to_contain_text(request_id)
    expect(facts).to_contain_text("tollway-demo")
    attempts = page.get_by_role("table").filter(has_text="Attempts")
    expect(attempts).to_contain_text("demo-fake")
    expect(attempts).to_contain_text("ok")
    expect(page.get_by_label("Request body")).to_contain_text("[REDACTED:email]")
    expect(page.get_by_role("main")).not_to_contain_text("ann@example.com")
    page.screenshot(path=shots / "request.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    for path in (f"/admin/requests?request_id={request_id}", f"/admin/requests/{request_id}"):
        page.goto(path)
        assert _overflow(page) == 0, path
        assert _unlabelled(page) == [], f"{path}: every field has a label"
