"""Running one workflow decision from a form: all of it, or (on a refusal) none of it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import HTTPException
from sqlalchemy.orm import Session

from pcse_intake.workflows.errors import (
    MessageNotFound,
    NotPermitted,
    RequestNotFound,
    WorkflowRefusal,
)

security_log = logging.getLogger("pcse_intake.console.security")


def attempt(session: Session, change: Callable[[], object]) -> WorkflowRefusal | None:
    """Run `change` in a savepoint; on a refusal undo it and return the refusal to show.

    The request's own transaction still commits (its session bookkeeping), so the savepoint
    is what keeps a refused decision from leaving anything half-done.
    """
    try:
        with session.begin_nested():
            change()
    except (RequestNotFound, MessageNotFound) as missing:
        raise HTTPException(status_code=404, detail=str(missing)) from missing
    except NotPermitted as refusal:
        raise HTTPException(status_code=403, detail=_sentence(str(refusal))) from refusal
    except WorkflowRefusal as refusal:
        # Four eyes, a wrong state, a stale version: logged as a possible bypass attempt.
        security_log.warning("refused by the workflow: %r", str(refusal))
        return refusal
    return None


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text
