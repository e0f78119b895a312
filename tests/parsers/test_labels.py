"""labels.py: the field and the party a label names, typos and FAQ bullets included."""

from __future__ import annotations

import pytest

from pcse_intake.parsers.labels import field_of, role_of


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("Pratice code", "ods_code"),
        ("ODS", "ods_code"),
        ("Org code", "ods_code"),
        ("Practice email (current)", "current_email"),
        ("New practice email address", "new_email"),
        (
            "The email address for the main contact we hold for your existing practice",
            "contact_email",
        ),
        ("Main contact (with title)", "contact_name"),
        ("Tel no", "phone"),
        ("Full address of new practice", "address"),
        ("Your organisation type", "org_type"),
        ("Surgery", "name"),
        ("Practice name and code", "name"),
        ("Change to", "new_email_or_name"),
        ("Old address", "address_or_current"),
    ],
)
def test_label_names_its_field(label: str, field: str) -> None:
    assert field_of(label) == field


@pytest.mark.parametrize(
    ("label", "role"),
    [
        ("Details of your branch practice", "branch"),
        ("The organisation/ODS code for your main practice", "main"),
        ("Existing practise", "existing"),
        ("I am already the main contact at", "existing"),
        ("New pharmacy name", "new"),
        ("Main contact", None),
    ],
)
def test_label_points_at_its_party(label: str, role: str | None) -> None:
    assert role_of(label) == role


def test_prose_is_not_a_label() -> None:
    assert field_of("Wendy, please ask PCSE to switch us over and thank them for me " * 3) is None


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("Main pracitce naem", "name"),
        ("Branch ODS cdoe", "ods_code"),
        ("Main contcat", "contact_name"),
        ("Main contact emial", "contact_email"),
        ("Orgnaisation type", "org_type"),
        ("Post code", "address"),
    ],
)
def test_a_label_word_one_slip_away_still_reads(label: str, field: str) -> None:
    assert field_of(label) == field


def test_a_different_word_is_not_a_slip() -> None:
    assert field_of("Contract") is None
    assert field_of("Notes") is None
