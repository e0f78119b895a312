"""Request fields: paths, missing details in plain words, merging, normal forms."""

from __future__ import annotations

import pytest

from pcse_intake.parsers import RequestKind
from pcse_intake.workflows.errors import InvalidValue
from pcse_intake.workflows.fields import (
    REQUIRED,
    compute_missing,
    describe,
    merge,
    normalise_value,
    set_path,
    valid_paths,
)


def test_missing_is_worked_out_from_the_fields() -> None:
    fields = {"practice": {"name": "X", "ods_code": "A12345", "new_email": "x@nhs.net"}}
    assert compute_missing(RequestKind.EMAIL_CHANGE, fields) == ["practice.current_email"]
    assert compute_missing(RequestKind.NEW_PRACTICE_SETUP, {}) == list(
        REQUIRED[RequestKind.NEW_PRACTICE_SETUP]
    )


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("new_practice.address", "the new practice's full address, with postcode"),
        ("branch.main_contact.email", "the e-mail address of the branch's main contact"),
        ("practice.current_email", "your practice's current practice e-mail address"),
        ("main_practice.phone", "your main practice's telephone number"),
    ],
)
def test_missing_paths_read_as_plain_words(path: str, words: str) -> None:
    assert describe(path).startswith(words)


def test_every_required_path_has_plain_words() -> None:
    for paths in REQUIRED.values():
        for path in paths:
            assert "_" not in describe(path) and "." not in describe(path).rstrip(")")


def test_a_merge_takes_later_values_and_reports_each_change() -> None:
    fields = {"practice": {"name": "Old", "ods_code": "A12345"}}
    update = {"practice": {"name": "New", "current_email": "a@nhs.net"}, "branch": {"name": "x"}}
    merged, changed = merge(RequestKind.EMAIL_CHANGE, fields, update)
    assert merged == {
        "practice": {"name": "New", "ods_code": "A12345", "current_email": "a@nhs.net"}
    }
    assert changed == {
        "practice.name": ("Old", "New"),
        "practice.current_email": (None, "a@nhs.net"),
    }


def test_setting_a_path_to_nothing_removes_it_and_empty_parents() -> None:
    fields = {"branch": {"main_contact": {"email": "a@nhs.net"}}}
    assert set_path(fields, "branch.main_contact.email", None) == {}
    assert fields == {"branch": {"main_contact": {"email": "a@nhs.net"}}}  # not mutated


@pytest.mark.parametrize(
    ("path", "value", "normal"),
    [
        ("practice.new_email", " Admin@NHS.net ", "admin@nhs.net"),
        ("branch.phone", "0113 496 0682", "+441134960682"),
        ("branch.ods_code", "a12 345 001", "A12345001"),
        ("new_practice.org_type", "Pharmacy", "pharmacy"),
        ("new_practice.name", "  Two   Spaces ", "Two Spaces"),
        ("new_practice.name", "   ", None),
    ],
)
def test_staff_values_are_normalised(path: str, value: str, normal: str | None) -> None:
    assert normalise_value(path, value) == normal


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("practice.new_email", "not an address"),
        ("practice.new_email", "a@nhs.net\r\nBcc: x@evil.com"),
        ("branch.phone", "call reception"),
        ("branch.ods_code", "A-1"),
        ("new_practice.org_type", "vet"),
    ],
)
def test_malformed_staff_values_are_refused(path: str, value: str) -> None:
    with pytest.raises(InvalidValue):
        normalise_value(path, value)


def test_only_the_kinds_own_roles_can_be_corrected() -> None:
    paths = valid_paths(RequestKind.BRANCH_SETUP)
    assert "branch.main_contact.email" in paths and "practice.new_email" not in paths
