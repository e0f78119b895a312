"""Pure parsing: raw RFC 5322 bytes in, a frozen `ParsedEmail` out; no I/O of any kind."""

from pcse_intake.parsers.model import (
    ROLES,
    AuthVerdict,
    Contact,
    ParsedEmail,
    ParseOptions,
    Party,
    Problem,
    RequestKind,
    party_from_json,
    party_to_json,
)
from pcse_intake.parsers.parse import parse

__all__ = [
    "ROLES",
    "AuthVerdict",
    "Contact",
    "ParseOptions",
    "ParsedEmail",
    "Party",
    "Problem",
    "RequestKind",
    "parse",
    "party_from_json",
    "party_to_json",
]
