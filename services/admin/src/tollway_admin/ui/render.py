"""Render admin pages: the shared template context, redirects after a form, and the small
formatters templates use."""

from __future__ import annotations

import difflib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from tollway_admin.ui import session
from tollway_common.control import KeyRecord, Limits

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def key_status(key: KeyRecord) -> str:
    now = time.time()
    if key.revoked_at and key.revoked_at <= now:
        return "revoked"
    if key.expires_at and key.expires_at <= now:
        return "expired"
    return "active"


def limits_text(limits: Limits) -> str:
    parts = [f"{limits.rpm} rpm" if limits.rpm else "", f"{limits.tpm} tpm" if limits.tpm else ""]
    return ", ".join(p for p in parts if p) or "—"


def uptime(ms: int) -> str:
    minutes, _ = divmod(max(ms, 0) // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if days else (f"{hours}h {minutes}m" if hours else f"{minutes}m")


def when(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def page(request: Request, template: str, active: str, **context: Any) -> Response:
    """A full page for the signed-in caller (redirects to sign-in when nobody is)."""
    identity = session.current(request)
    context.setdefault("error", request.query_params.get("error"))
    context.setdefault("notice", request.query_params.get("notice"))
    return templates.TemplateResponse(
        request,
        template,
        {
            "identity": identity,
            "csrf": session.csrf_token(request),
            "active": active,
            "can_write": identity.can_write,
            "status": key_status,
            "limits": limits_text,
            "uptime": uptime,
            "when": when,
            **context,
        },
    )


def back(path: str, *, error: str = "", notice: str = "") -> RedirectResponse:
    """Post/redirect/get: back to `path` with a message for the page to show."""
    query = f"?error={quote(error)}" if error else (f"?notice={quote(notice)}" if notice else "")
    return RedirectResponse(path + query, status_code=303)


def pretty(record: BaseModel) -> str:
    return json.dumps(record.model_dump(mode="json"), indent=2, sort_keys=True)


def record_diff(older: BaseModel | None, newer: BaseModel | None) -> str:
    """A unified diff of two records' JSON, as the history and the edit preview show it."""
    return "\n".join(
        difflib.unified_diff(
            pretty(older).splitlines() if older is not None else [],
            pretty(newer).splitlines() if newer is not None else [],
            lineterm="",
            n=2,
        )
    )
