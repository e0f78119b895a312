"""identity.py: Reply-To, Sender and display names that point away from the real sender."""

from __future__ import annotations

from pcse_intake.parsers import ParsedEmail, RequestKind
from pcse_intake.workflows.identity import identity_problems

SENDER = "ouseburn.surgery@nhs.net"


def _codes(**kw: str) -> set[str]:
    parsed = ParsedEmail(kind=RequestKind.EMAIL_CHANGE, sender=SENDER, **kw)  # type: ignore[arg-type]
    return {p["code"] for p in identity_problems(parsed)}


def test_a_plain_message_raises_no_identity_flag() -> None:
    assert _codes(reply_to=SENDER, sender_header=SENDER, sender_name="Ouseburn Surgery") == set()


def test_reply_to_elsewhere_is_flagged() -> None:
    assert _codes(reply_to="ouseburn@gmail.com") == {"reply_to_differs"}


def test_a_sender_header_other_than_from_is_flagged() -> None:
    assert _codes(sender_header="relay@example.org") == {"sender_header_differs"}


def test_a_display_name_showing_another_address_is_flagged() -> None:
    assert _codes(sender_name="Ouseburn <ouseburn.surgery@nhs.net.example.org>") == {
        "display_name_address"
    }
    assert _codes(sender_name=f"Ouseburn ({SENDER})") == set()


def test_no_sender_means_nothing_to_compare() -> None:
    parsed = ParsedEmail(kind=RequestKind.EMAIL_CHANGE, reply_to="x@gmail.com")
    assert identity_problems(parsed) == []
