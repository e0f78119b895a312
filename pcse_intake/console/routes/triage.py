"""Triage: messages that are not requests (unknown, automated, quarantined) and their actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from pcse_intake.console.deps import DbSession, Now, Who
from pcse_intake.console.pages import render
from pcse_intake.workflows.queue import triage_page

router = APIRouter(prefix="/triage")


@router.get("")
def triage_list(
    request: Request,
    session: DbSession,
    moment: Now,
    _who: Who,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    return render(
        request, "triage.html", {"result": triage_page(session, page=page), "now": moment}
    )
