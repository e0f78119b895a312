"""Untrusted text made inert and legible: invisible and direction-changing characters shown."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import regex

from pcse_intake.workflows.fields import describe

# Every character that draws nothing, or changes how the text around it is drawn (Trojan
# Source, CVE-2021-42574), found by its Unicode properties rather than listed: controls,
# format characters (bidi embeddings, overrides, isolates and marks, zero-width characters,
# the BOM, tags), line and paragraph separators, private-use, surrogates, unassigned code
# points, and every default-ignorable code point (soft hyphen, variation selectors, the
# Hangul fillers U+115F, U+1160, U+3164, U+FFA0). Three blank glyphs no property marks are
# added by hand: U+2800 BRAILLE PATTERN BLANK, U+1D159 MUSICAL SYMBOL NULL NOTEHEAD and
# U+16FE4 KHITAN SMALL SCRIPT FILLER. Spaces (Zs) stay: they look like the gap they are.
_HIDDEN = regex.compile(
    r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cs}\p{Cn}\p{Default_Ignorable_Code_Point}"
    r"\u2800\U0001D159\U00016FE4]"
)


def reveal(text: object, *, keep: str = "\n\t") -> str:
    """The text with every hidden character replaced by a visible `[U+XXXX]`.

    Line breaks and tabs are kept unless `keep` says otherwise (a one-line display passes
    ""). Jinja's autoescape still escapes the result; this only makes hidden characters
    visible so that a caseworker sees what the e-mail really contains.
    """
    if text is None:
        return ""
    return _HIDDEN.sub(lambda m: _shown(m.group(), keep), str(text))


def _shown(char: str, keep: str) -> str:
    return char if char in keep else f"[U+{ord(char):04X}]"


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
