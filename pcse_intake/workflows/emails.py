"""Rendering outgoing e-mails from `templates/email/`: a subject, a text body and an HTML body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, FunctionLoader, StrictUndefined, TemplateNotFound

TEMPLATE_PACKAGE = "pcse_intake"
TEMPLATE_DIR = ("templates", "email")

TEMPLATES = (
    "acknowledgement",
    "missing_information",
    "email_change_confirmation",
    "email_change_notice",
    "email_change_stopped",  # a waiting e-mail change will not happen (pending_changes.py)
    "email_change_stopped_staff",  # to staff: a waiting e-mail change was stopped
    "branch_access",
    "main_contact_extension_confirmation",
    "new_practice_access",
    "rejection",
    "staff_reminder_digest",  # to staff, not practices: the daily reminder (maintenance.py)
    "staff_bounce_alert",  # to staff: a confirmation or notice bounced (bounces.py)
    "staff_loop_alert",  # to staff: an address keeps writing past the reply caps (loops.py)
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _load(name: str) -> str:
    # importlib.resources finds the files in an installed wheel as well as in a checkout.
    node = resources.files(TEMPLATE_PACKAGE).joinpath(*TEMPLATE_DIR, name)
    if not node.is_file():
        raise TemplateNotFound(name)
    return node.read_text(encoding="utf-8")


@cache
def _environment(html: bool) -> Environment:
    return Environment(
        loader=FunctionLoader(_load),
        autoescape=html,
        undefined=StrictUndefined,  # a missing value is a defect, not a blank in a letter
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_email(name: str, context: Mapping[str, Any]) -> RenderedEmail:
    """Render template `name`; the subject is one line (line breaks in values become spaces)."""
    if name not in TEMPLATES:
        raise ValueError(f"no e-mail template {name!r}")
    values = dict(context)
    subject = _environment(False).get_template(f"{name}.subject.txt").render(values)
    text = _environment(False).get_template(f"{name}.txt").render(values)
    html = _environment(True).get_template(f"{name}.html").render(values)
    return RenderedEmail(subject=one_line(subject), text=text, html=html)


def one_line(text: str) -> str:
    """Collapse every kind of line break and run of whitespace: safe for a header field."""
    return " ".join(text.split())
