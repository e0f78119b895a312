"""Structured logs: one JSON object per line, so a subject holding a line break stays one line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from pcse_intake.parsers.normalise import mask_phones

# Field names that must never reach a log, whatever a caller passes by mistake.
_SECRET_WORDS = ("password", "secret", "token", "body", "raw")
# json.dumps(ensure_ascii=False) leaves these as they are, yet `str.splitlines`, JavaScript
# and many log shippers end a line at them: escaped, a forged second event cannot appear.
_LINE_ENDS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def event(logger: logging.Logger, name: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event `name` with its fields (kept structured, never interpolated into text)."""
    logger.log(level, name, extra={"pcse_fields": fields})


class JsonLineFormatter(logging.Formatter):
    """`{"at": ..., "level": ..., "logger": ..., "event": ..., ...fields}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "pcse_fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                if any(word in key.lower() for word in _SECRET_WORDS):
                    value = "[withheld]"
                line[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            line["error"] = f"{type(error).__name__}: {error}"
        # json.dumps escapes CR/LF and C0 controls, _LINE_ENDS the rest: one event, one line.
        text = json.dumps(line, default=str, ensure_ascii=False).translate(_LINE_ENDS)
        return mask_phones(text)  # whole numbers only where a request is verified (case 55)


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record to `stream` (stderr) as JSON lines; called once per process."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # apscheduler's INFO lines ("Running job ...") and aiosmtpd's per-connection lines
    # would drown the events that matter. imapclient (protocol traces: whole messages, the
    # LOGIN line), SQLAlchemy (statements with their parameters: raw bytes, hashes) and
    # MSAL (token traffic) would write message bodies and secrets even at level = "DEBUG".
    for chatty in ("apscheduler", "mail.log", "imapclient", "sqlalchemy", "msal"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
