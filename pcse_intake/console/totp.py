"""TOTP codes (RFC 6238) for the second factor: new secrets, the QR code, checking a code."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno
from markupsafe import Markup

ISSUER = "PCSE Intake"
STEP_SECONDS = 30  # what every authenticator app uses by default
DIGITS = 6
# One step either side of now: a phone's clock a little out, or a code typed as it changed.
TOLERANCE_STEPS = 1


def new_secret() -> str:
    """160 random bits in base32 (32 characters): the length RFC 4226 recommends."""
    return pyotp.random_base32(32)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app that cannot scan."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=ISSUER
    )


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


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def normalised(code: str) -> str:
    """What was typed, without the spaces or dashes some apps show inside a code."""
    return "".join(c for c in code if c not in " -\u2013\t")


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is (within the tolerance), or None if it is none of them."""
    code = normalised(code)
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = time_step(now)
    for step in range(current - TOLERANCE_STEPS, current + TOLERANCE_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
