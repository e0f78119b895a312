"""TOTP codes (RFC 6238) for the second factor: new keys, the otpauth link, checking a code."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

ISSUER = "PCSE Intake"
STEP_SECONDS = 30  # what every authenticator app uses by default
DIGITS = 6
# One step either side of now: a phone's clock a little out, or a code typed as it changed.
TOLERANCE_STEPS = 1


def new_secret() -> str:
    """160 random bits in base32 (32 characters): the length RFC 4226 recommends."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=ISSUER
    )


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The code an app holding `secret` shows during time step `step`."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def normalised(code: str) -> str:
    """What was typed, without the spaces or dashes some apps show inside a code."""
    return "".join(c for c in code if c not in " -\u2013\t")


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is (within the tolerance), or None if it is none of them."""
    code = normalised(code)
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    current = time_step(now)
    for step in range(current - TOLERANCE_STEPS, current + TOLERANCE_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step), code):
            return step
    return None
