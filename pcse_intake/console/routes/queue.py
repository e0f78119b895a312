"""The queue: open requests by state and kind, oldest first, with filters and search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from pcse_intake.console.deps import DbSession, Now, Who
from pcse_intake.console.pages import render
from pcse_intake.workflows.models import RequestState
from pcse_intake.workflows.queue import QueueFilter, queue_page

router = APIRouter()

KINDS = ("email_change", "main_contact_extension", "branch_setup", "new_practice_setup")
STATES = tuple(s.value for s in RequestState)


@router.get("/")
def queue(
    request: Request,
    session: DbSession,
    moment: Now,
    _who: Who,
    state: Annotated[list[str], Query(max_length=40)] = [],  # noqa: B006 (FastAPI copies it)
    kind: Annotated[str, Query(max_length=40)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    states = tuple(s for s in state if s in STATES)
    filters = QueueFilter(
        states=states,
        kind=kind if kind in KINDS else None,
        search=q.strip() or None,
        page=page,
    )
    result = queue_page(session, filters=filters)
    return render(
        request,
        "queue.html",
        {
            "result": result,
            "filters": filters,
            "kinds": KINDS,
            "states": STATES,
            "now": moment,
            "query": {"state": list(states), "kind": filters.kind or "", "q": q.strip()},
        },
    )
