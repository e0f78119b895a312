"""Building raw test messages the way NHSmail delivers them (CRLF, a few headers)."""

from __future__ import annotations


def message(
    body: str | bytes,
    *,
    subject: str = "Update practice email address",
    sender: str = '"DOE, Jane (GREENLANE SURGERY)" <jane.doe@nhs.net>',
    content_type: str = 'text/plain; charset="utf-8"',
    extra: str = "",
) -> bytes:
    head = (
        f"From: {sender}\r\nTo: PCSE Data Manager <pcse.datamanager@nhs.net>\r\n"
        f"Subject: {subject}\r\nMessage-ID: <test@example.nhs.net>\r\n{extra}"
        f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n"
    ).encode()
    data = body.encode("utf-8") if isinstance(body, str) else body
    return head + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
