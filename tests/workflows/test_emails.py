"""E-mail templates: every one renders, carries the reference, and escapes HTML."""

from __future__ import annotations

from typing import Any

import pytest

from pcse_intake.workflows.emails import TEMPLATES, render_email

CONTEXT: dict[str, Any] = {
    "ref": "PCSE-000042",
    "kind_label": "update your practice e-mail address",
    "organisation": "Glebe House Surgery",
    "missing": ["your practice's current practice e-mail address (the one we hold)"],
    "practice_name": "Glebe House Surgery",
    "ods_code": "H83004",
    "new_email": "glebehouse.admin@nhs.net",
    "old_email": "glebehouse.surgery@nhs.net",
    "effective_at": "09:30 UTC on 3 March 2026",
    "scheduled": True,
    "stopped_by": "root",
    "contact_name": "Dr Ada Brook",
    "branch_name": "Gateacre Surgery",
    "branch_ods": "N81790001",
    "main_practice_name": "Hillside Green Surgery",
    "existing_account": False,
    "new_practice_name": "Longlevens Surgery",
    "new_ods": "L84677",
    "existing_practice_name": "Kingsholm Surgery",
    "reason": "The new address is a personal mailbox.",
    "what": "the confirmation of the e-mail change",
    "address": "glebehouse.admin@nhs.net",
    "as_of": "2026-03-02 09:30 UTC",
}


# Everything we send about a request; the staff digest (maintenance.py) and the loop alert
# (loops.py) are about many requests or none.
REQUEST_TEMPLATES = tuple(
    t for t in TEMPLATES if t not in ("staff_reminder_digest", "staff_loop_alert")
)


def test_all_the_e_mails_the_workflow_needs_exist() -> None:
    assert set(REQUEST_TEMPLATES) >= {
        "acknowledgement",
        "missing_information",
        "email_change_confirmation",
        "email_change_notice",
        "branch_access",
        "main_contact_extension_confirmation",
        "new_practice_access",
        "rejection",
    }


@pytest.mark.parametrize("name", REQUEST_TEMPLATES)
def test_every_template_renders_text_and_html_with_the_reference_in_the_subject(name: str) -> None:
    email = render_email(name, CONTEXT)
    assert email.subject.startswith("PCSE-000042") and "\n" not in email.subject
    assert "PCSE-000042" in email.text and "PCSE-000042" in email.html
    assert "{{" not in email.text and "{%" not in email.html
    assert email.html.lstrip().startswith("<!DOCTYPE html>")


def test_values_are_escaped_in_html_and_line_breaks_never_reach_the_subject() -> None:
    hostile = {**CONTEXT, "practice_name": "<script>alert(1)</script>\r\nBcc: evil@x.com"}
    email = render_email("email_change_notice", hostile)
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "\r" not in email.subject and "\n" not in email.subject


def test_the_old_address_is_told_how_to_stop_a_change() -> None:
    text = render_email("email_change_notice", CONTEXT).text
    assert "reply to this e-mail" in text and "phone the PCSE Customer Support Centre" in text


def test_the_missing_details_are_listed_in_words() -> None:
    text = render_email("missing_information", CONTEXT).text
    assert "- your practice's current practice e-mail address" in text


def test_an_unknown_template_or_a_missing_value_is_an_error() -> None:
    with pytest.raises(ValueError, match="no e-mail template"):
        render_email("nope", CONTEXT)
    with pytest.raises(Exception, match="reason"):
        render_email("rejection", {k: v for k, v in CONTEXT.items() if k != "reason"})
