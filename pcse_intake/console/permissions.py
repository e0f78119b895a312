"""Which role may do what, as the console asks it: one table, the workflow's own."""

from __future__ import annotations

from pcse_intake.workflows.models import StaffRole
from pcse_intake.workflows.staff import ALLOWED, Action

__all__ = ["Action", "allowed"]


def allowed(role: str, action: Action | str) -> bool:
    try:
        return Action(action) in ALLOWED[StaffRole(role)]
    except ValueError:
        return False
