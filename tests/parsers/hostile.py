"""Hostile inputs for the parser (battery 38-39), shared by the fuzz tests and the bench."""

from __future__ import annotations

from .helpers import message

CRAFTED_BODIES = {
    "dotted": "a." * 200_000,
    "capitals": "Aaa " * 200_000,
    "connectors": "Aaa " + "on " * 200_000,
    "labels": "Practice code: " * 50_000,
    "empty labels": "Name:\n" * 200_000,
    "postcodes": "LS1 1AA " * 100_000,
    "quotes": "> x\n" * 200_000,
    "one long word": "x" * 1_000_000,
    "facts": "Dr Aaa Bbb (a@b.cc), Aaa Surgery (A12345), 1 High St, Leeds, LS1 1AA. " * 5000,
}
# Each body is read under every kind's subject, since each kind runs its own extraction.
KIND_SUBJECTS = ("Update practice email address", "New branch", "New practice")


def crafted_body(name: str, subject: str) -> bytes:
    return message(CRAFTED_BODIES[name], subject=subject)


def deeply_nested(depth: int = 1000) -> bytes:
    head = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(depth)
    )
    return b"From: a@nhs.net\r\nSubject: x\r\n" + head + b"Content-Type: text/plain\r\n\r\nhi\r\n"


def very_wide(parts: int = 100_000) -> bytes:
    body = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(parts))
    return b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + body + b"--b--\r\n"


def stuffed_headers() -> bytes:
    """100,000 addresses in From, 200,000 semicolons in To, 20,000 encoded words."""
    addresses = b", ".join(b"user%d@example.org" % i for i in range(100_000))
    return (
        b"From: " + addresses + b"\r\nTo: " + b";" * 200_000 + b"\r\n"
        b"Subject: " + b"=?utf-8?q?a?= " * 20_000 + b"\r\n\r\nhello\r\n"
    )


def all_hostile() -> dict[str, bytes]:
    """Every hostile input by name, for timing each parse."""
    inputs = {
        "1,000 nested multiparts": deeply_nested(),
        "100,000 parts": very_wide(),
        "stuffed headers": stuffed_headers(),
    }
    for name in CRAFTED_BODIES:
        for subject in KIND_SUBJECTS:
            inputs[f"body '{name}' / {subject}"] = crafted_body(name, subject)
    return inputs
