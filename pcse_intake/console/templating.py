"""The Jinja2 environment for console pages: autoescaped, strict, with the display filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from pcse_intake.console import display

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "console"


def make_templates() -> Jinja2Templates:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        # Everything is escaped, always: e-mail content is untrusted.
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["reveal"] = display.reveal
    environment.filters["when"] = display.when
    environment.filters["label"] = display.label
    environment.filters["duration"] = display.duration
    environment.globals["age"] = display.age
    environment.filters["urlencode_multi"] = _urlencode_multi
    environment.tests["hiding"] = display.has_hidden_characters
    environment.tests["not_ascii"] = display.is_not_plain_ascii
    return Jinja2Templates(env=environment)


def _urlencode_multi(params: dict[str, Any]) -> str:
    """Query string for a dict whose values may be lists (repeated keys); empty values left out."""
    return urlencode({k: v for k, v in params.items() if v}, doseq=True)
