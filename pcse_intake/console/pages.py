"""Rendering a console page with what every page needs: who is signed in, the form token."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse, RedirectResponse

from pcse_intake.console.permissions import allowed
from pcse_intake.console.session_store import SignedIn

# Outcome messages after a redirect: the query string carries a code, never free text.
NOTICES: dict[str, str] = {
    "signed_out": "You have signed out.",
    "call_recorded": "The call has been recorded.",
    "approved": "The request has been approved. The confirmation e-mail is queued.",
    "rejected": "The request has been rejected. The practice will be told why.",
    "change_cancelled": (
        "The e-mail change has been cancelled before it took effect. Both addresses will be told."
    ),
    "corrected": "The correction has been saved and added to the history.",
    "dismissed": "The message has been dismissed.",
    "made_request": "A request has been made from the message.",
    "reprocessed": "The message has been processed again.",
    "role_change_requested": (
        "The role change has been asked for. It takes effect when another administrator "
        "confirms it."
    ),
    "role_changed": "The role has been changed. The person must sign in again.",
    "change_withdrawn": "The change has been withdrawn.",
    "disabled": "The account has been disabled and its sessions ended.",
    "enabled": "The account has been enabled.",
    "unlocked": "The account has been unlocked.",
    "second_factor_reset": (
        "The second factor has been reset and the person's sessions ended. They set up "
        "their authenticator app again at their next sign-in."
    ),
}


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    who: SignedIn | None = None,
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    who = who or getattr(request.state, "signed_in", None)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    full: dict[str, Any] = {
        "who": who,
        "csrf_token": who.csrf_token if who else "",
        "can": (lambda action: allowed(who.role, action)) if who else (lambda _a: False),
        "notice": notice,
        "path": request.url.path,
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, full, status_code=status_code)


def see_other(url: str) -> RedirectResponse:
    """After a POST, go to a page with GET (so reloading never repeats the action)."""
    return RedirectResponse(url, status_code=303)


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site; never an absolute or scheme-relative URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
