"""Forms the pages post: the CSRF check every one passes, record creation through the same
validation and reference checks as the JSON API, and a form page shown again with what is
wrong next to each field."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.responses import Response

from tollway_admin.resources import Resource
from tollway_admin.routes.common import refuse_new_problems, store_of
from tollway_admin.security import AdminIdentity
from tollway_admin.ui import session
from tollway_admin.ui.form_values import FieldErrors
from tollway_admin.ui.render import back, page
from tollway_common.control import is_secret_reference
from tollway_common.errors import InvalidRequest, PermissionDenied, TollwayError


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields, once the session's CSRF token has been checked (403 otherwise)."""
    form = await request.form()
    values = {name: str(value) for name, value in form.items()}
    session.check_csrf(request, values.pop("csrf", ""))
    return values


def first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"


async def create_record(
    request: Request, resource: Resource[Any], field: str, back_to: str
) -> Response:
    identity = session.current(request)
    # Empty form fields mean "not set".
    values = {name: value for name, value in (await read_form(request)).items() if value != ""}
    if not identity.can_write(None):
        return back(back_to, error="Creating this needs the 'admin' role.")
    if "created_at" in resource.record_type.model_fields:
        values["created_at"] = str(int(time.time()))
    try:
        record = resource.record_type.model_validate(values)
    except ValidationError as exc:
        return back(back_to, error=first_error(exc))
    public_id = resource.public_id(record)
    store = store_of(request)
    before = store.state()
    after = before.with_(**{field: {**getattr(before, field), public_id: record}})
    try:
        refuse_new_problems(before, after, conflict=False)
        await store.create(resource, record, identity.actor)
    except TollwayError as exc:
        return back(back_to, error=exc.message)
    return back(back_to, notice=f"{resource.kind.title()} {public_id} created.")


def form_revision(values: dict[str, str]) -> int:
    """The revision an edit form was opened at (its hidden field), for compare-and-set."""
    try:
        return int(values.get("revision", ""))
    except ValueError:
        raise InvalidRequest("The form lost its revision; reload it.") from None


def require_admin(identity: AdminIdentity, doing: str) -> None:
    """The API's rule for catalog, org and team records: only the `admin` role writes them."""
    if not identity.can_write(None):
        raise PermissionDenied(f"{doing} needs the 'admin' role.")


def check_secret_reference(request: Request, values: dict[str, str], field: str) -> None:
    """The reference in `field` against the secret policy, as the API checks it on a write;
    FieldErrors (on that field) when the policy refuses it."""
    reference = values.get(field, "").strip()
    if not is_secret_reference(reference):
        return  # empty, or the record's own validator refuses it
    refusal = request.app.state.secret_policy.refusal(reference)
    if refusal is not None:
        raise FieldErrors({field: refusal})


def form_page(
    request: Request,
    template: str,
    active: str,
    values: dict[str, str],
    problem: Exception | None = None,
    **context: Any,
) -> Response:
    """A form page, with what went wrong: field errors next to their fields (400), or the
    API's refusal at the top with its status (403 for a role, 409 for a conflict, ...)."""
    errors: dict[str, str] = {}
    status = 200
    if isinstance(problem, FieldErrors):
        errors, status = dict(problem.errors), 400
    elif isinstance(problem, TollwayError):
        errors, status = {"": problem.message}, problem.status
    summary = errors.pop("", "") or ("Check the fields marked below." if errors else "")
    response = page(
        request,
        template,
        active,
        values=values,
        errors=errors,
        error=summary or None,
        **context,
    )
    response.status_code = status
    return response
