"""Sign-in with the admin token or an OIDC access token, and sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from tollway_admin.ui import session
from tollway_admin.ui.forms import read_form
from tollway_admin.ui.render import back, templates
from tollway_common.errors import TollwayError

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/login")
async def login_page(request: Request) -> Response:
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "identity": None,
            "error": request.query_params.get("error"),
            "notice": request.query_params.get("notice"),
            "oidc": request.app.state.oidc_login is not None,
        },
    )


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    try:
        await session.sign_in(request, str(form.get("token", "")))
    except TollwayError as exc:
        return back("/admin/login", error=exc.message)
    return back("/admin")


@router.post("/logout")
async def logout(request: Request) -> Response:
    await read_form(request)
    await session.sign_out(request)
    return back("/admin/login", notice="Signed out.")
