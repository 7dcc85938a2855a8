"""Forms the pages post: the CSRF check every one passes, and record creation through the same
validation and reference checks as the JSON API."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.responses import Response

from tollway_admin.resources import Resource
from tollway_admin.routes.common import refuse_new_problems, store_of
from tollway_admin.ui import session
from tollway_admin.ui.render import back
from tollway_common.errors import TollwayError


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
