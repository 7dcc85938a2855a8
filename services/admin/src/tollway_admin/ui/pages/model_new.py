"""Add to the catalog from the browser: a new model with its first deployment and price, an
alias of a model, a deployment on a model. Each form previews the diff of what would be stored,
after every check the JSON API's POST or PUT runs (the secret policy, the admin role, dangling
references, duplicate deployment names); Save writes through the same functions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_admin.resources import MODELS, PRICES
from tollway_admin.routes import records
from tollway_admin.routes.common import store_of
from tollway_admin.security import AdminIdentity
from tollway_admin.ui import session
from tollway_admin.ui.form_values import FieldErrors
from tollway_admin.ui.forms import (
    check_secret_reference,
    form_page,
    form_revision,
    read_form,
    require_admin,
)
from tollway_admin.ui.model_forms import (
    DEPLOYMENT_PREFIX,
    PROVIDERS,
    alias_of,
    deployment_from,
    model_from,
    price_from,
    with_deployment,
)
from tollway_admin.ui.render import back, record_diff
from tollway_common.control import ModelAlias, Price, RoutingStrategy, is_secret_reference
from tollway_common.errors import TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)

API_KEY_FIELD = DEPLOYMENT_PREFIX + "api_key"
_NEW_MODEL_DEFAULTS = {
    "d.provider": "openai",
    "d.weight": "1",
    "d.priority": "0",
    "currency": "USD",
}


def _shown(values: dict[str, str]) -> dict[str, str]:
    """The values to put back in the form: never something typed as a key that is not a
    secret reference (it may be a real key; the page must not echo it)."""
    key = values.get(API_KEY_FIELD, "")
    if key and not is_secret_reference(key.strip()):
        return {**values, API_KEY_FIELD: ""}
    return values


def _context(request: Request) -> dict[str, Any]:
    return {
        "provider_options": [(p, p) for p in PROVIDERS],
        "strategy_options": [(s.value, s.value) for s in RoutingStrategy],
        "model_options": [(m.name, m.name) for m in store_of(request).all(MODELS)],
        "secret_forms": request.app.state.secret_policy.allowed_forms(),
    }


def _render(
    request: Request,
    template: str,
    values: dict[str, str],
    problem: Exception | None = None,
    **context: Any,
) -> Response:
    return form_page(
        request, template, "Models", _shown(values), problem, **_context(request), **context
    )


async def _save_price(
    request: Request, price: Price | None, current: Price | None, identity: AdminIdentity
) -> None:
    if price is None or price is current:
        return
    if current is None:
        await records.create(request, PRICES, price, identity)
    else:
        await records.replace(request, PRICES, price.model, price, identity)


def _price_diff(price: Price | None, current: Price | None) -> str:
    return record_diff(current, price) if price is not None and price is not current else ""


async def _preview_or_create(
    request: Request,
    template: str,
    values: dict[str, str],
    model: ModelAlias,
    price: Price | None,
    current_price: Price | None,
    identity: AdminIdentity,
) -> Response | None:
    """The form again with the diffs of what saving would change, or, when the operator saved,
    the model and its price created (None: the caller goes back to the models page)."""
    checked = records.prepare_create(request, MODELS, model, identity)
    if values.get("action") != "save":
        return _render(
            request,
            template,
            values,
            diff=record_diff(None, checked),
            price_diff=_price_diff(price, current_price),
        )
    await records.create(request, MODELS, model, identity)
    await _save_price(request, price, current_price, identity)
    return None


@router.get("/models/new")
async def new_model_page(request: Request) -> Response:
    return _render(request, "model_new.html", dict(_NEW_MODEL_DEFAULTS))


@router.post("/models/new")
async def new_model(request: Request) -> Response:
    identity = session.current(request)
    values = await read_form(request)
    store = store_of(request)
    try:
        require_admin(identity, "Creating a model")
        check_secret_reference(request, values, API_KEY_FIELD)
        model = model_from(values)
        if store.find(MODELS, model.name) is not None:
            raise FieldErrors({"name": f"the model '{model.name}' already exists"})
        current_price = store.find(PRICES, model.name)
        price = price_from(model.name, values, current_price)
        preview = await _preview_or_create(
            request, "model_new.html", values, model, price, current_price, identity
        )
        if preview is not None:
            return preview
    except (FieldErrors, TollwayError) as exc:
        return _render(request, "model_new.html", values, exc)
    return back("/admin/models", notice=f"Model {model.name} created.")


@router.get("/models/new-alias")
async def new_alias_page(request: Request) -> Response:
    return _render(request, "model_alias.html", {"source": request.query_params.get("source", "")})


@router.post("/models/new-alias")
async def new_alias(request: Request) -> Response:
    identity = session.current(request)
    values = await read_form(request)
    store = store_of(request)
    try:
        require_admin(identity, "Creating an alias")
        source = store.find(MODELS, values.get("source", ""))
        if source is None:
            raise FieldErrors({"source": "choose the model the alias stands for"})
        alias = alias_of(source, values)
        if store.find(MODELS, alias.name) is not None:
            raise FieldErrors({"alias": f"the model '{alias.name}' already exists"})
        current_price = store.find(PRICES, alias.name)
        source_price = store.find(PRICES, source.name)
        price = _copied_price(source_price, alias.name, current_price, values)
        preview = await _preview_or_create(
            request, "model_alias.html", values, alias, price, current_price, identity
        )
        if preview is not None:
            return preview
    except (FieldErrors, TollwayError) as exc:
        return _render(request, "model_alias.html", values, exc)
    return back("/admin/models", notice=f"Alias {alias.name} of {source.name} created.")


def _copied_price(
    source: Price | None, alias: str, current: Price | None, values: dict[str, str]
) -> Price | None:
    """The source model's price under the alias's name, when the form asks for it."""
    if source is None or not values.get("copy_price"):
        return None
    copied = source.model_copy(update={"model": alias, "version": "", "managed_by": ""})
    if current is not None and copied == current.model_copy(update={"version": ""}):
        return current
    return copied


@router.get("/models/{name:path}/deployments/new")
async def new_deployment_page(name: str, request: Request) -> Response:
    model, revision = await store_of(request).read(MODELS, name)
    values = {**_NEW_MODEL_DEFAULTS, "revision": str(revision)}
    return _render(request, "deployment_new.html", values, name=name, model=model)


@router.post("/models/{name:path}/deployments/new")
async def new_deployment(name: str, request: Request) -> Response:
    identity = session.current(request)
    values = await read_form(request)
    model: ModelAlias | None = store_of(request).find(MODELS, name)
    try:
        require_admin(identity, "Adding a deployment")
        model, _ = await store_of(request).read(MODELS, name)
        check_secret_reference(request, values, API_KEY_FIELD)
        deployment = deployment_from(values)
        edited = with_deployment(model, deployment)
        checked, _ = await records.prepare_replace(request, MODELS, name, edited, identity)
        if values.get("action") != "save":
            diff = record_diff(model, checked)
            return _render(
                request, "deployment_new.html", values, name=name, model=model, diff=diff
            )
        await records.replace(request, MODELS, name, edited, identity, form_revision(values))
    except (FieldErrors, TollwayError) as exc:
        return _render(request, "deployment_new.html", values, exc, name=name, model=model)
    return back(
        f"/admin/models/{quote(name)}/history",
        notice=f"Deployment {deployment.name} added to {name}.",
    )
