"""Untrusted text made legible: hidden characters shown, look-alike addresses flagged, ages."""

from __future__ import annotations

from datetime import timedelta

import pytest

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
