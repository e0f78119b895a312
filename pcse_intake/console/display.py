"""Untrusted text made inert and legible: invisible and direction-changing characters shown."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import Any

from pcse_intake.workflows.fields import describe

# Characters that reorder or hide text (Trojan Source, CVE-2021-42574) or join look-alikes:
# bidi embeddings/overrides/isolates, zero-width characters, the BOM, soft hyphen, word joiner.
_INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff\u00ad\u180e"
)


def reveal(text: object) -> str:
    """The text with every invisible or control character replaced by a visible `[U+XXXX]`.

    Jinja's autoescape still escapes the result; this only makes hidden characters visible
    so that a caseworker sees what the e-mail really contains.
    """
    if text is None:
        return ""
    out: list[str] = []
    for char in str(text):
        if char in "\n\t":
            out.append(char)
        elif char in _INVISIBLE or unicodedata.category(char) in {"Cc", "Cf", "Co", "Cs"}:
            out.append(f"[U+{ord(char):04X}]")
        else:
            out.append(char)
    return "".join(out)


def has_hidden_characters(text: object) -> bool:
    return text is not None and reveal(text) != str(text)


def is_not_plain_ascii(text: object) -> bool:
    """For addresses: a Cyrillic "e" (U+0435) in "nhs.net" looks right; staff must be told."""
    return text is not None and not str(text).isascii()


def age(since: datetime | None, now: datetime) -> str:
    """A short, plain duration: '3 days 4 h', '5 h 10 min', '12 min'."""
    if since is None:
        return ""
    return duration(now - since)


def duration(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def when(moment: datetime | None) -> str:
    """A UTC timestamp staff can read: '21 Nov 2026 14:05 UTC'."""
    if moment is None:
        return ""
    return moment.strftime("%d %b %Y %H:%M UTC")


def label(value: object) -> str:
    """A code such as 'awaiting_verification' as words: 'Awaiting verification'."""
    text = str(value or "").replace("_", " ").replace(".", " > ")
    return text[:1].upper() + text[1:]


def flatten_fields(fields: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested parsed fields as (dotted path, value) rows, in the order they were given."""
    rows: list[tuple[str, str]] = []
    for key, value in fields.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(flatten_fields(value, f"{path}."))
        elif value is not None:
            rows.append((path, str(value)))
    return rows


def field_label(path: str) -> str:
    """A parsed field's name for staff: the workflow's wording (written for practices) retold."""
    text = describe(path)
    if text.startswith("your "):
        text = "the " + text[len("your ") :]
    text = text.replace("ods code", "ODS code")
    return text[:1].upper() + text[1:]
