"""One request: what was asked, the original e-mail, checks, calls, decisions and history."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/requests")
