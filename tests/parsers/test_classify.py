"""classify.py: the kind from subject and body together; anything else is unknown."""

from __future__ import annotations

import pytest

from pcse_intake.parsers.classify import classify
from pcse_intake.parsers.model import RequestKind

CODE = "Greenlane Surgery (A12345)"


@pytest.mark.parametrize(
    ("subject", "text", "kind"),
    [
        ("Update practice email address", f"{CODE}: new address a.surgery@nhs.net", "email_change"),
        (
            "hi",
            f"Please extend the main contact for {CODE} to Oak Surgery (B12345).",
            "main_contact_extension",
        ),
        (
            "hi",
            f"Please set up our new branch, code A12345 001. Main practice {CODE}.",
            "branch_setup",
        ),
        (
            "New pharmacy",
            "Name: X Pharmacy\nODS code: FA123\nAddress: 1 High St, Leeds, LS1 1AA",
            "new_practice_setup",
        ),
        ("Question", "How do I change our practice email address?", "unknown"),
        ("Leaver", f"Dr A (a.b@nhs.net) has left {CODE}; please deactivate her.", "unknown"),
        (
            "Main contact",
            f"Please change the main contact for {CODE} to Mrs C (c.d@nhs.net).",
            "unknown",
        ),
        ("Phone", f"Our phone number has changed to 0113 496 0000 for {CODE}.", "unknown"),
        ("Supplies", "Please send 3 boxes of FP10 forms to 1 High St, Leeds, LS1 1AA.", "unknown"),
    ],
)
def test_kind_from_subject_and_body(subject: str, text: str, kind: str) -> None:
    assert classify(subject, text) is RequestKind(kind)


def test_old_and_new_address_lines_are_an_email_change_without_any_wording() -> None:
    text = "Surgery: Ouseburn Surgery\nOld address: o.surgery@nhs.net\nNew address: o.admin@nhs.net"
    assert classify("", text) is RequestKind.EMAIL_CHANGE


def test_a_branch_only_mentioned_in_an_email_change_stays_an_email_change() -> None:
    text = (
        "Please update the practice email address for our main site and branch, "
        f"{CODE}, to x.admin@nhs.net"
    )
    assert classify("", text) is RequestKind.EMAIL_CHANGE


def test_extending_access_to_a_new_practice_is_an_extension() -> None:
    text = (
        "Please extend my PCSE Online access to cover our new practice Oak Surgery (B12345). "
        "I am main contact for Ash Surgery (A12345)."
    )
    assert classify("PCSE access", text) is RequestKind.MAIN_CONTACT_EXTENSION
