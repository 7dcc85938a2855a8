"""Edit a model alias from the browser: strategy, fallbacks, each deployment's upstream model,
weight and priority (or its removal), and the alias's price (every unit `Price` knows). A
preview shows the diff of what would be stored; saving writes it through the same checks as
the JSON API's PUT, compare-and-set against the revision the form was opened at."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from tollway_admin.resources import MODELS, PRICES
from tollway_admin.routes import records
from tollway_admin.routes.common import store_of
from tollway_admin.ui import session
from tollway_admin.ui.form_values import FieldErrors
from tollway_admin.ui.forms import first_error, form_page, form_revision, read_form
from tollway_admin.ui.model_forms import price_from, price_values
from tollway_admin.ui.render import back, record_diff
from tollway_common.control import ModelAlias, Price, RoutingStrategy
from tollway_common.errors import InvalidRequest, PermissionDenied, TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)

_LISTS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")


def _values(model: ModelAlias, price: Price | None) -> dict[str, str]:
    """The form's fields for a stored alias and price."""
    values = {"strategy": model.strategy.value}
    for name in _LISTS:
        values[name] = ", ".join(getattr(model, name))
    for index, deployment in enumerate(model.deployments):
        values[f"d{index}.name"] = deployment.name
        values[f"d{index}.model"] = deployment.model
        values[f"d{index}.weight"] = str(deployment.weight)
        values[f"d{index}.priority"] = str(deployment.priority)
    values.update(price_values(price))
    return values


def _edited(model: ModelAlias, values: dict[str, str]) -> ModelAlias:
    """The alias with the form's changes, validated as the API validates a PUT body."""
    data = model.model_dump(mode="json")
    data["strategy"] = values.get("strategy", model.strategy.value)
    for name in _LISTS:
        data[name] = [a.strip() for a in values.get(name, "").split(",") if a.strip()]
    deployments = []
    for index, deployment in enumerate(data["deployments"]):
        if values.get(f"d{index}.name") != deployment["name"]:
            raise InvalidRequest("The deployments changed since the form was opened; reload it.")
        if values.get(f"d{index}.remove"):
            continue
        deployment["model"] = values.get(f"d{index}.model", deployment["model"])
        deployment["weight"] = values.get(f"d{index}.weight", deployment["weight"])
        deployment["priority"] = values.get(f"d{index}.priority", deployment["priority"])
        deployments.append(deployment)
    data["deployments"] = deployments
    try:
        return ModelAlias.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(first_error(exc)) from None


def _render(
    request: Request,
    name: str,
    values: dict[str, str],
    problem: Exception | None = None,
    **context: Any,
) -> Response:
    model = store_of(request).find(MODELS, name)
    return form_page(
        request,
        "model_edit.html",
        "Models",
        values,
        problem,
        name=name,
        model=model,
        strategies=[s.value for s in RoutingStrategy],
        **context,
    )


@router.get("/models/{name:path}/edit")
async def edit_page(name: str, request: Request) -> Response:
    store = store_of(request)
    model, revision = await store.read(MODELS, name)
    values = _values(model, store.find(PRICES, name))
    values["revision"] = str(revision)
    return _render(request, name, values)


@router.post("/models/{name:path}/edit")
async def edit(name: str, request: Request) -> Response:
    identity = session.current(request)
    values = await read_form(request)
    store = store_of(request)
    try:
        if not identity.can_write(None):
            raise PermissionDenied("Editing a model needs the 'admin' role.")
        model, _ = await store.read(MODELS, name)
        price = store.find(PRICES, name)
        edited = _edited(model, values)
        new_price = price_from(name, values, price)
        checked, _ = await records.prepare_replace(request, MODELS, name, edited, identity)
        if values.get("action") != "save":
            diff = record_diff(model, checked)
            price_diff = record_diff(price, new_price) if new_price is not price else ""
            return _render(request, name, values, diff=diff, price_diff=price_diff)
        await records.replace(request, MODELS, name, edited, identity, form_revision(values))
        if new_price is not None and new_price is not price:
            if price is None:
                await records.create(request, PRICES, new_price, identity)
            else:
                await records.replace(request, PRICES, name, new_price, identity)
    except (FieldErrors, TollwayError) as exc:
        return _render(request, name, values, exc)
    return back(f"/admin/models/{quote(name)}/history", notice=f"{name} saved.")
