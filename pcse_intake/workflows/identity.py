"""Flags from the message's own identity headers, for staff to see before trusting the sender."""

from __future__ import annotations

import re
from typing import Any

from pcse_intake.parsers import ParsedEmail
from pcse_intake.workflows.checks import problem

IDENTITY_CODES = frozenset({"reply_to_differs", "sender_header_differs", "display_name_address"})

_ADDRESS_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def identity_problems(parsed: ParsedEmail) -> list[dict[str, Any]]:
    """Reply-To or Sender other than From, and a display name that holds another address.

    None of these stops a request on its own (mailing tools and delegates set them), but each
    is how an impersonation usually looks, so staff are told before they call.
    """
    sender = parsed.sender
    if not sender:
        return []
    out: list[dict[str, Any]] = []
    if parsed.reply_to and parsed.reply_to != sender:
        out.append(
            problem(
                "reply_to_differs",
                None,
                f"the e-mail asks for replies to go to {parsed.reply_to}, not to the sender"
                f" {sender}; we only ever write to addresses we hold",
            )
        )
    if parsed.sender_header and parsed.sender_header != sender:
        out.append(
            problem(
                "sender_header_differs",
                None,
                f"it was sent by {parsed.sender_header} on behalf of {sender}",
            )
        )
    shown = _ADDRESS_IN_TEXT.search(parsed.sender_name or "")
    if shown and shown.group(0).lower() != sender:
        out.append(
            problem(
                "display_name_address",
                None,
                f"the sender's display name shows {shown.group(0)}, but the real sender is"
                f" {sender}",
            )
        )
    return out
