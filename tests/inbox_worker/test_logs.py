"""Structured logs: one line per event whatever the values hold, and secrets never printed."""

from __future__ import annotations

import io
import json
import logging

from pcse_intake.inbox_worker.logs import JsonLineFormatter, event


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger(f"test.logs.{id(stream)}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


def test_a_subject_with_line_breaks_is_still_one_line_and_reads_back_exactly() -> None:
    logger, stream = _capture()
    event(logger, "message_recorded", subject="Hello\r\nBcc: x@example.org\n", uid=7)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "message_recorded" and record["uid"] == 7
    assert record["subject"] == "Hello\r\nBcc: x@example.org\n"


def test_fields_named_like_secrets_or_bodies_are_withheld() -> None:
    logger, stream = _capture()
    event(logger, "oops", password="hunter2", access_token="abc", body_text="Dear...", uid=1)
    text = stream.getvalue()
    assert "hunter2" not in text and "abc" not in text and "Dear" not in text
    assert json.loads(text)["password"] == "[withheld]"


def test_phone_numbers_in_any_field_are_logged_masked() -> None:
    logger, stream = _capture()
    event(logger, "call_recorded", note="rang 0113 496 0682 from the record", to="+441134960001")
    record = json.loads(stream.getvalue())
    assert record["note"] == "rang **** *** *682 from the record"
    assert record["to"] == "+*********001"
