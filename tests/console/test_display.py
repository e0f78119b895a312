"""Untrusted text made legible: hidden characters shown (over the whole code-point range),
look-alike addresses flagged, ages."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcse_intake.console.display import (
    duration,
    field_label,
    flatten_fields,
    has_hidden_characters,
    is_not_plain_ascii,
    reveal,
)
from tests.console.conftest import Console
from tests.console.test_queue import add_request


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("invoice\u202efdp.exe", "invoice[U+202E]fdp.exe"),  # right-to-left override
        ("nhs\u200b.net", "nhs[U+200B].net"),  # zero-width space
        ("a\u2066b\u2069", "a[U+2066]b[U+2069]"),  # bidi isolates
        ("bell\x07", "bell[U+0007]"),  # a control character
        ("line one\nline two\ttab", "line one\nline two\ttab"),  # layout is kept
        # ordinary letters and punctuation are untouched
        ("Dr Si\u00e2n Jones \u2013 Practice", "Dr Si\u00e2n Jones \u2013 Practice"),
    ],
)
def test_reveal_makes_hidden_characters_visible(text: str, shown: str) -> None:
    assert reveal(text) == shown
    assert has_hidden_characters(text) == (text != shown)


# Default_Ignorable_Code_Point, as the Unicode standard lists it (DerivedCoreProperties.txt):
# written out here so the test does not take the property from the code it checks.
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
BLANK_GLYPHS = {0x2800, 0x1D159, 0x16FE4}
HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs"}


def must_be_shown(code: int) -> bool:
    """Hidden by the standard's own data: shown as [U+XXXX] whatever Unicode version."""
    char = chr(code)
    if char in "\n\t":
        return False
    return (
        unicodedata.category(char) in HIDDEN_CATEGORIES
        or any(low <= code <= high for low, high in DEFAULT_IGNORABLE)
        or code in BLANK_GLYPHS
        or 0x40000 <= code <= 0xDFFFF  # planes 4 to 13: nothing is assigned there
        or 0xFDD0 <= code <= 0xFDEF  # noncharacters
        or code & 0xFFFE == 0xFFFE
    )


def must_stay(code: int) -> bool:
    """A letter, mark, digit, punctuation, symbol or space that draws as itself."""
    char = chr(code)
    if char in "\n\t":
        return True
    visible = unicodedata.category(char)[0] in "LMNPS" or unicodedata.category(char) == "Zs"
    return visible and not must_be_shown(code)


def test_every_hidden_code_point_in_the_whole_range_is_shown_and_no_visible_one_is() -> None:
    hidden_kept, visible_changed = [], []
    for code in range(0x110000):
        shown = reveal(chr(code))
        if must_be_shown(code) and shown != f"[U+{code:04X}]":
            hidden_kept.append(f"U+{code:04X}")
        elif must_stay(code) and shown != chr(code):
            visible_changed.append(f"U+{code:04X}")
    assert hidden_kept == []
    assert visible_changed == []


def test_the_characters_staff_were_shown_blank_are_revealed() -> None:
    for char in "\u3164\u2800\u2028\u2029\u115f\u1160\uffa0\u180e\U000e0041\ufe0f":
        assert reveal(f"a{char}b") == f"a[U+{ord(char):04X}]b"


_MARKER = re.compile(r"\[U\+([0-9A-F]{4,6})\]")
ANY_CODE_POINT = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())


@settings(max_examples=500, deadline=None)
@given(st.text(ANY_CODE_POINT, max_size=60))
def test_revealed_text_hides_nothing_and_reads_back_to_the_original(text: str) -> None:
    shown = reveal(text)
    assert not any(must_be_shown(ord(c)) for c in shown)
    assert reveal(shown) == shown
    if "[U+" not in text:
        assert _MARKER.sub(lambda m: chr(int(m.group(1), 16)), shown) == text


def test_a_one_line_display_shows_line_breaks_and_tabs_too() -> None:
    assert reveal("a\nb\tc", keep="") == "a[U+000A]b[U+0009]c"


def test_look_alike_addresses_are_not_plain_ascii() -> None:
    assert is_not_plain_ascii("greenlane@nhs.n\u0435t")  # Cyrillic ie
    assert not is_not_plain_ascii("greenlane@nhs.net")


def test_durations_read_plainly() -> None:
    assert duration(timedelta(minutes=7)) == "7 min"
    assert duration(timedelta(hours=5, minutes=3)) == "5 h 3 min"
    assert duration(timedelta(days=1, hours=2)) == "1 day 2 h"
    assert duration(timedelta(days=3)) == "3 days 0 h"
    assert duration(timedelta(minutes=-5)) == "0 min"  # a clock skew never shows negative


def test_fields_flatten_to_dotted_paths_with_staff_wording() -> None:
    fields = {"practice": {"name": "Greenlane", "main_contact": {"email": "a@nhs.net"}, "x": None}}
    assert flatten_fields(fields) == [
        ("practice.name", "Greenlane"),
        ("practice.main_contact.email", "a@nhs.net"),
    ]
    assert field_label("practice.ods_code") == "The practice's ODS code"


def test_the_queue_flags_a_look_alike_sender(console: Console) -> None:
    add_request(console.database.sessions, days_old=1, sender="greenlane@nhs.n\u0435t")
    console.add_staff("vera", "verifier")
    page = console.sign_in("vera").get("/").text
    assert "Not plain ASCII: look-alike?" in page
