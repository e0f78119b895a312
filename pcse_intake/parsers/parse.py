"""The parser's entry point: one raw message to one `ParsedEmail` (stub until the parser lands)."""

from __future__ import annotations

from pcse_intake.parsers.model import ParsedEmail, ParseOptions, RequestKind


def parse(raw: bytes, options: ParseOptions | None = None) -> ParsedEmail:
    """Read one raw message; never raises, whatever the bytes."""
    del raw, options
    return ParsedEmail(kind=RequestKind.UNKNOWN)
