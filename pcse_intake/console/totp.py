"""Showing a TOTP key for enrolment: in groups of four, and as a QR code drawn on the server."""

from __future__ import annotations

import segno
from markupsafe import Markup


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app that cannot scan."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(uri: str) -> Markup:
    """The QR code as inline SVG markup, made on the server.

    Inline markup (no image URL, no data: URI, no script) fits the console's CSP unchanged.
    Only the code's modules are drawn: no text from the URI (nor the username) is written
    into the markup. Black on white, whatever the page's colours, so any phone can read it.
    """
    qr = segno.make(uri, error="m", micro=False)
    return Markup(
        qr.svg_inline(scale=4, border=4, dark="#000000", light="#ffffff", title="QR code")
    )
