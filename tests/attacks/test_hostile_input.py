"""Hostile input through the real entry points: a crafted config file, crafted e-mails and
crafted console requests each get a clear, safe answer, and nothing is lost, changed or sent."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pcse_intake.console.security_headers import CONTENT_SECURITY_POLICY
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.intake import record_failure
from pcse_intake.workflows.models import (
    HistoryEntry,
    InboundMessage,
    MessageStatus,
    Organisation,
    OutboxMessage,
    Request,
)
from tests.attacks.conftest import run_cli
from tests.conftest import TestDatabase
from tests.console.conftest import PASSWORD, Console, csrf_of
from tests.hardening.conftest import email_change_raw
from tests.inbox_worker.support import CLI_MAIN

PRACTICE = "ouseburn.surgery@nhs.net"  # A84615's address in the sample registry
ATTACKER = "attacker@example.org"
NORMAL_DATE = "Mon, 02 Mar 2026 09:00:00 +0000"


@dataclass(frozen=True)
class Records:
    """What an attack must not change: the registry, and who has been written to."""

    registry: tuple[tuple[str, str | None, str | None], ...]
    recipients: frozenset[str]
    requests: int


def records(session: Session) -> Records:
    organisations = session.scalars(select(Organisation).order_by(Organisation.ods_code))
    return Records(
        registry=tuple((o.ods_code, o.email, o.phone) for o in organisations),
        recipients=frozenset(session.scalars(select(OutboxMessage.to_addr))),
        requests=session.scalar(select(func.count(Request.id))) or 0,
    )


def snapshot(database: TestDatabase) -> Records:
    with database.sessions() as session:
        return records(session)


def assert_security_headers(headers: httpx.Headers) -> None:
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"


# ---------------------------------------------------------------------------------------
# 1. A hostile configuration file: refused at load, in one line, before anything happens.

# (section, key, value as written in the file, how the error shows the value)
CONFIG_ATTACKS = [
    ("workflow", "cooling_off_hours", "-5", "-5"),
    ("workflow", "cooling_off_hours", "1e400", "inf"),
    ("workflow", "cooling_off_hours", "-inf", "-inf"),
    ("workflow", "cooling_off_hours", "nan", "nan"),
    ("workflow", "cooling_off_hours", "721", "721"),
    ("workflow", "cooling_off_hours", "1" + "0" * 400, "1000000"),
    ("workflow", "cooling_off_hours", "true", "true"),
    ("workflow", "cooling_off_hours", '"24"', '"24"'),
    ("workflow", "reminder_working_days", "0", "0"),
    ("workflow", "acknowledgements_per_sender_per_day", "-1", "-1"),
    ("workflow", "replies_per_address_per_hour", "-1", "-1"),
    ("workflow", "loop_alert_after", "0", "0"),
    ("console", "port", "99999", "99999"),
    ("console", "port", "0", "0"),
    ("console", "port", "-1", "-1"),
    ("console", "port", "65536", "65536"),
    ("console", "port", "8080.5", "8080.5"),
    ("console", "port", "true", "true"),
    ("console", "port", "9" * 30, "999999"),
    ("console", "session_idle_minutes", "0", "0"),
    ("console", "session_absolute_hours", "100000", "100000"),
    ("console", "second_factor", '"sometimes"', '"sometimes"'),
    ("console", "second_factor", '"OFF"', '"OFF"'),
    ("mailbox", "port", "99999", "99999"),
    ("mailbox", "security", '"tls"', '"tls"'),
    ("mailbox", "auth", '"kerberos"', '"kerberos"'),
    ("mailbox", "batch_size", "0", "0"),
    ("mailbox", "batch_max_megabytes", "nan", "nan"),
    ("mailbox", "timeout_seconds", "0", "0"),
    ("mailbox", "timeout_seconds", "inf", "inf"),
    ("mailbox", "max_attempts", "0", "0"),
    ("mailbox", "backlog_ack_max_age_hours", "-1", "-1"),
    ("smtp", "port", "70000", "70000"),
    ("smtp", "security", '"SSL"', '"SSL"'),
    ("smtp", "timeout_seconds", "-1.0", "-1.0"),
    ("smtp", "max_attempts", "0", "0"),
    ("schedule", "poll_seconds", "0", "0"),
    ("schedule", "poll_seconds", "-60", "-60"),
    ("schedule", "outbox_seconds", "0", "0"),
    ("schedule", "reminders_time", '"25:00"', '"25:00"'),
    ("schedule", "retention_time", '"12:60"', '"12:60"'),
    ("schedule", "retention_time", '"soon\\nError: forged"', '"soon\\nError: forged"'),
    ("parser", "max_message_bytes", "-1", "-1"),
    ("parser", "max_message_bytes", "0", "0"),
    ("retention", "raw_message_days", "0", "0"),
    ("retention", "raw_message_days", "-1", "-1"),
    ("health", "port", "99999", "99999"),
    ("health", "stale_poll_seconds", "0", "0"),
    ("logging", "level", '"LOUD"', '"LOUD"'),
]


@pytest.mark.parametrize(
    ("section", "key", "value", "shown"),
    CONFIG_ATTACKS,
    ids=[f"{s}.{k}={v[:12]}" for s, k, v, _ in CONFIG_ATTACKS],
)
def test_a_hostile_config_value_stops_the_command_with_one_line_and_changes_nothing(
    tmp_path: Path, section: str, key: str, value: str, shown: str
) -> None:
    db = tmp_path / "pcse.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{db}"\n\n[{section}]\n{key} = {value}\n')
    message = tmp_path / "m.eml"
    message.write_bytes(email_change_raw())
    result = run_cli(config, "ingest", str(message))
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, no traceback
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: {config}: [{section}] {key} = {shown}")
    assert "is not allowed: it must be " in lines[0]
    assert not db.exists()  # nothing recorded, nothing queued to anyone


def test_nesting_the_config_too_deeply_is_one_line_not_a_crash(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[database]\nurl = " + "[" * 50_000 + "]" * 50_000 + "\n")
    result = run_cli(config, "db", "upgrade")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines() == [
        f"Error: config file {config} nests arrays or tables too deeply"
    ]


@pytest.mark.parametrize(
    ("setting", "command"),
    [
        ("[workflow]\ncooling_off_hours = -5", ["db", "upgrade"]),
        ("[workflow]\ncooling_off_hours = 1e400", ["run"]),
        ("[console]\nport = 99999", ["serve"]),
        ("[parser]\nmax_message_bytes = -1", ["parse", "-"]),
    ],
    ids=["negative-cooling-off", "infinite-cooling-off", "port-99999", "negative-size-limit"],
)
def test_the_reported_config_values_fail_a_real_process_in_one_line(
    tmp_path: Path, setting: str, command: list[str]
) -> None:
    db = tmp_path / "pcse.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{db}"\n\n{setting}\n')
    done = subprocess.run(
        [sys.executable, "-c", CLI_MAIN, "--config", str(config), *command],
        input=email_change_raw(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    key = setting.split("\n")[1].split(" = ")[0]
    assert f"{key} = " in stderr and "it must be a" in stderr
    assert not db.exists()


# ---------------------------------------------------------------------------------------
# 2. Hostile header values in an e-mail: stored, flagged, answered as usual, reprocessable.

# name -> Date header (None: no Date header at all), and whether it can be read.
HOSTILE_DATES: dict[str, tuple[str | None, bool]] = {
    "far-future-negative-offset": ("Fri, 31 Dec 9999 23:59:59 -2359", False),
    "far-past-positive-offset": ("Mon, 01 Jan 1 00:00:00 +2359", True),
    "year-10000": ("Sat, 01 Jan 10000 00:00:00 +0000", False),
    "huge-year": ("Fri, 31 Dec " + "9" * 40 + " 23:59:59 +0000", False),
    "offset-of-days": ("Fri, 31 Dec 2025 23:59:59 +9999", False),
    "hour-99": ("Fri, 31 Dec 2025 99:99:99 +0000", False),
    "negative-fields": ("Fri, -31 Dec -2025 -23:-59:-59 +0000", False),
    "garbage": ("next Tuesday, probably", False),
    "control-characters": ("Fri, 31 Dec 2025 \x1b[2J23:59:59 +0000", False),
    "empty": ("", False),
    "missing": (None, True),
    "last-moment-in-utc": ("Fri, 31 Dec 9999 23:59:59 +0000", True),
    "unknown-zone": ("Fri, 31 Dec 2025 23:59:59 -0000", True),
}


def with_date(date: str | None, *, tag: str, sender: str = PRACTICE) -> bytes:
    raw = email_change_raw(tag=tag, sender=sender)
    header = f"Date: {NORMAL_DATE}\r\n".encode()
    return raw.replace(header, b"" if date is None else f"Date: {date}\r\n".encode())


def ingest_files(config: Path, folder: Path, messages: dict[str, bytes]) -> dict[str, str]:
    """Each message through `pcse-intake ingest`; what the command said of each file."""
    paths = []
    for name, raw in messages.items():
        path = folder / f"{name}.eml"
        path.write_bytes(raw)
        paths.append(str(path))
    result = run_cli(config, "ingest", *paths)
    assert result.exit_code == 0, result.output  # no message failed, none was quarantined
    said = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    return {Path(path).stem: text for path, text in said.items()}


def stored(session: Session, message_id_header: str) -> list[InboundMessage]:
    query = select(InboundMessage).where(InboundMessage.message_id_header == message_id_header)
    return list(session.scalars(query))


def test_a_hostile_date_is_stored_safely_flagged_and_answered_as_any_other(
    database: TestDatabase, config: Path, tmp_path: Path
) -> None:
    before = snapshot(database)
    messages = {"control": with_date(NORMAL_DATE, tag="control")}
    messages |= {name: with_date(d, tag=name) for name, (d, _) in HOSTILE_DATES.items()}
    said = ingest_files(config, tmp_path, messages)
    with database.sessions() as session:
        for name, (date, readable) in HOSTILE_DATES.items():
            assert said[name].startswith("request PCSE-"), (name, said[name])
            [row] = stored(session, f"<{name}@nhs.net>")  # kept, exactly once
            assert row.raw == messages[name] and row.status == MessageStatus.REQUEST
            codes = {p["code"] for p in row.parse_result["problems"]}
            assert ("malformed_message" in codes) == (not readable), name
            if not readable or date is None:
                assert row.sent_at is None, name  # unknown: staff see the received time
            else:
                assert row.sent_at is not None and row.sent_at.tzinfo is not None
        after = records(session)
        acknowledgements = session.scalars(
            select(OutboxMessage.to_addr).where(OutboxMessage.template == "acknowledgement")
        ).all()
    assert after.registry == before.registry  # nothing changed in the registry
    assert after.recipients == {PRACTICE}  # answered as the control was, to no one else
    assert len(acknowledgements) == len(messages)


def test_a_message_quarantined_by_a_hostile_date_is_reprocessed_into_a_request(
    database: TestDatabase, config: Path, staff_console: Console
) -> None:
    """Before the parser read dates into UTC, storing this message raised OverflowError and
    after three attempts it was quarantined; reprocessing it now gives its request."""
    raw = with_date("Fri, 31 Dec 9999 23:59:59 -2359", tag="was-poison")
    with transaction(database.sessions) as session:
        for _ in range(3):
            record_failure(
                session,
                raw,
                error="StatementError: (builtins.OverflowError) date value out of range",
                now=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
                source=None,
                max_attempts=3,
            )
        [row] = session.scalars(select(InboundMessage)).all()
        assert row.status == MessageStatus.QUARANTINED
        message_id = row.id
    before = snapshot(database)
    client = staff_console.client
    response = client.post(
        f"/triage/{message_id}/reprocess", data={"csrf_token": csrf_of(client, "/triage")}
    )
    assert response.status_code == 303, response.text
    with database.sessions() as session:
        row = session.get_one(InboundMessage, message_id)
        assert row.status == MessageStatus.REQUEST and row.request_id is not None
        assert row.sent_at is None and row.raw == raw and row.error is None
        after = records(session)
    assert after.registry == before.registry and after.requests == before.requests + 1
    assert after.recipients <= {PRACTICE}


def test_a_hostile_date_on_mail_for_triage_is_kept_and_can_be_reprocessed(
    database: TestDatabase, config: Path, staff_console: Console, tmp_path: Path
) -> None:
    question = (
        f"From: Someone <{ATTACKER}>\r\nTo: pcse.datamanager@nhs.net\r\n"
        "Subject: Quick question\r\nMessage-ID: <triage-date@example.org>\r\n"
        "Date: Fri, 31 Dec 9999 23:59:59 -2359\r\nContent-Type: text/plain\r\n\r\n"
        "Where do we order prescription pads?\r\n"
    ).encode()
    before = snapshot(database)
    said = ingest_files(config, tmp_path, {"question": question})
    assert said["question"].startswith("triage")
    with database.sessions() as session:
        [row] = stored(session, "<triage-date@example.org>")
        message_id = row.id
        outbox_before = session.scalar(select(func.count(OutboxMessage.id)))
    client = staff_console.client
    page = client.get(f"/triage/{message_id}")
    assert page.status_code == 200 and "Where do we order prescription pads?" in page.text
    response = client.post(
        f"/triage/{message_id}/reprocess", data={"csrf_token": csrf_of(client, "/triage")}
    )
    assert response.status_code == 303, response.text
    with database.sessions() as session:
        row = session.get_one(InboundMessage, message_id)
        assert row.status == MessageStatus.TRIAGE and row.raw == question
        actions = session.scalars(
            select(HistoryEntry.action).where(HistoryEntry.message_id == message_id)
        ).all()
        assert "message_reprocessed" in actions
        # Reprocessing files it again; it does not write to the sender a second time.
        assert session.scalar(select(func.count(OutboxMessage.id))) == outbox_before
    assert snapshot(database).registry == before.registry


def _header(raw: bytes, line: bytes) -> bytes:
    return raw.replace(b"Content-Type:", line + b"\r\nContent-Type:", 1)


def _hostile_headers() -> dict[str, bytes]:
    base = email_change_raw
    return {
        "message-id-nul": base(tag="a\x00b"),
        "message-id-escape": base(tag="a\x1b[2Jb"),
        "message-id-100k": base(tag="x" * 100_000),
        "in-reply-to-nul": _header(base(tag="irt"), b"In-Reply-To: <a\x00b@nhs.net>"),
        "references-nul": _header(base(tag="refs"), b"References: <a\x00b@x> <c@d>"),
        "references-100k": _header(
            base(tag="refs-many"),
            b"References: " + b" ".join(b"<%d@x>" % i for i in range(100_000)),
        ),
        "reference-too-big": base(tag="big-ref", subject="Re: PCSE-" + "9" * 400),
        "reference-not-there": base(tag="no-ref", subject="Re: PCSE-999999999"),
        "resent-date": _header(base(tag="resent"), b"Resent-Date: Fri, 31 Dec 9999 23:59:59 -2359"),
        "huge-priority": _header(base(tag="prio"), b"X-Priority: " + b"9" * 10_000),
        "huge-content-length": _header(base(tag="cl"), b"Content-Length: " + b"9" * 400),
        "rfc2231-huge-index": base(tag="rfc2231").replace(
            b"charset=utf-8", b"charset*99999999999999999999999=utf-8; name*" + b"9" * 50 + b"=a"
        ),
        "boundary-100k": base(tag="boundary").replace(
            b"text/plain; charset=utf-8", b'multipart/mixed; boundary="' + b"-" * 100_000 + b'"'
        ),
        "date-repeated": _header(base(tag="two-dates"), b"Date: Fri, 31 Dec 9999 23:59:59 -2359"),
    }


def test_hostile_header_values_never_stop_a_message_being_stored_once(
    database: TestDatabase, config: Path, tmp_path: Path
) -> None:
    before = snapshot(database)
    messages = _hostile_headers()
    said = ingest_files(config, tmp_path, messages)
    with database.sessions() as session:
        for name, raw in messages.items():
            assert said[name].split()[0] in {"request", "triage"}, (name, said[name])
            rows = session.scalars(select(InboundMessage).where(InboundMessage.raw == raw))
            [row] = rows.all()  # kept, exactly once, whole
            assert row.error is None and row.attempts == 0, name
            assert row.message_id_header is None or "\x00" not in row.message_id_header
        after = records(session)
    assert after.registry == before.registry
    assert after.recipients == {PRACTICE}


# ---------------------------------------------------------------------------------------
# 3. Hostile console requests: a clean page with the security headers, nothing changed.

ID_ROUTES = [
    ("GET", "/triage/{}"),
    ("POST", "/triage/{}/dismiss"),
    ("POST", "/triage/{}/make-request"),
    ("POST", "/triage/{}/reprocess"),
    ("GET", "/requests/{}"),
    ("POST", "/requests/{}/calls"),
    ("POST", "/requests/{}/approve"),
    ("POST", "/requests/{}/reject"),
    ("POST", "/requests/{}/cancel-change"),
    ("POST", "/requests/{}/corrections"),
]
BAD_IDS = [
    "9223372036854775808",  # one past SQLite's INTEGER
    "2147483648",  # one past PostgreSQL's INTEGER
    "-9223372036854775809",
    "0",
    "-1",
    "1e3",
    "0x10",
    "9" * 400,
    "%00",
    "1%00",
    "PCSE-" + "9" * 30,
    "PCSE-0000000000000000001%00",
    "%E2%80%AE1",  # a right-to-left override before the id
]
# Every field any of those forms reads, filled in: only the address is wrong.
FULL_FORM = {
    "version": "1",
    "outcome": "no_answer",
    "notes": "n",
    "phone": "",
    "password": PASSWORD,
    "reason": "r",
    "path": "practice.name",
    "value": "v",
    "note": "n",
    "kind": "email_change",
}


@pytest.mark.parametrize(("method", "route"), ID_ROUTES, ids=[f"{m} {r}" for m, r in ID_ROUTES])
def test_an_id_out_of_range_or_malformed_is_a_clean_404(
    staff_console: Console, method: str, route: str
) -> None:
    # An approver may use every one of these routes, so a refusal can only be about the id.
    staff_console.add_staff("abe", "approver")
    client = staff_console.sign_in("abe", client=staff_console.new_client())
    before = snapshot(staff_console.database)
    token = csrf_of(client)
    for bad in BAD_IDS:
        path = route.format(bad)
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={**FULL_FORM, "csrf_token": token})
        assert response.status_code == 404, (path, response.status_code, response.text[:300])
        assert "There is nothing at this address." in response.text, path
        assert_security_headers(response.headers)
    assert snapshot(staff_console.database) == before


@pytest.fixture
def open_request(staff_console: Console, config: Path, tmp_path: Path) -> str:
    said = ingest_files(config, tmp_path, {"change": email_change_raw(tag="open")})
    return said["change"].split()[1].rstrip(",")


def _history(database: TestDatabase) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count(HistoryEntry.id))) or 0


NUL_FIELDS = [
    ("/requests/{ref}/calls", "notes"),
    ("/requests/{ref}/calls", "phone"),
    ("/requests/{ref}/reject", "reason"),
    ("/requests/{ref}/corrections", "value"),
    ("/requests/{ref}/corrections", "note"),
    ("/triage/1/dismiss", "note"),
    ("/staff", "username"),
    ("/staff/tess/role", "role"),
    ("/sign-in", "username"),
]


def test_a_nul_in_any_form_field_is_refused_before_the_database_sees_it(
    staff_console: Console, open_request: str
) -> None:
    client = staff_console.client
    database = staff_console.database
    before, history = snapshot(database), _history(database)
    token = csrf_of(client)
    for route, field in NUL_FIELDS:
        for nul in ("\x00", "a\x00b"):
            form = {**FULL_FORM, "role": "verifier", "username": "u", "csrf_token": token}
            response = client.post(route.format(ref=open_request), data={**form, field: nul})
            assert response.status_code == 400, (route, field, response.text[:300])
            assert "could not be understood" in response.text
            assert_security_headers(response.headers)
    assert snapshot(database) == before and _history(database) == history


@pytest.mark.parametrize(
    "path",
    ["/?q=%00", "/?q=a%00b", "/?kind=%00", "/?state=%00", "/triage?page=1&x=%00", "/%00"],
)
def test_a_nul_in_the_address_or_query_is_a_clean_page(staff_console: Console, path: str) -> None:
    response = staff_console.client.get(path)
    assert response.status_code in {400, 404}, response.text[:300]
    assert_security_headers(response.headers)


def test_a_body_larger_than_any_form_is_refused_unread(staff_console: Console) -> None:
    client = staff_console.client
    before = _history(staff_console.database)
    body = "csrf_token=" + csrf_of(client) + "&note=" + "a" * 2_000_000
    response = client.post(
        "/triage/1/dismiss",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert_security_headers(response.headers)
    assert _history(staff_console.database) == before


@pytest.fixture
def unguarded(staff_console: Console) -> Iterator[TestClient]:
    """The same signed-in browser, but an unexpected failure comes back as the server's answer
    (as a real browser would see it) instead of being raised in the test."""
    client = TestClient(
        staff_console.client.app,
        follow_redirects=False,
        raise_server_exceptions=False,
        cookies=dict(staff_console.client.cookies),
    )
    with client:
        yield client


def test_an_unexpected_failure_is_an_error_page_with_every_security_header(
    staff_console: Console, unguarded: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pcse_intake.console.routes.queue as queue_route
    import pcse_intake.console.routes.triage as triage_route

    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("a defect of ours")

    monkeypatch.setattr(queue_route, "queue_page", broken)
    monkeypatch.setattr(triage_route.triage, "dismiss_message", broken)
    for response in (
        unguarded.get("/"),
        unguarded.post(
            "/triage/1/dismiss", data={"csrf_token": csrf_of(unguarded, "/triage"), "note": "n"}
        ),
    ):
        assert response.status_code == 500
        assert "Something went wrong on our side" in response.text
        assert "a defect of ours" not in response.text and "Traceback" not in response.text
        assert_security_headers(response.headers)


# ---------------------------------------------------------------------------------------
# 4. Hidden characters in an e-mail: shown to staff as [U+XXXX], in the console and the CLI.

HIDDEN = {
    "\u3164": "HANGUL FILLER",
    "\u2800": "BRAILLE PATTERN BLANK",
    "\u2028": "LINE SEPARATOR",
    "\u2029": "PARAGRAPH SEPARATOR",
    "\u115f": "HANGUL CHOSEONG FILLER",
    "\u1160": "HANGUL JUNGSEONG FILLER",
    "\uffa0": "HALFWIDTH HANGUL FILLER",
    "\u180e": "MONGOLIAN VOWEL SEPARATOR",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u061c": "ARABIC LETTER MARK",
    "\u200b": "ZERO WIDTH SPACE",
    "\u034f": "COMBINING GRAPHEME JOINER",
    "\ufe0f": "VARIATION SELECTOR-16",
    "\U000e0041": "TAG LATIN CAPITAL LETTER A",
    "\U000f0000": "a private-use character",
    "\x1b": "ESCAPE",
}


@pytest.mark.parametrize("char", HIDDEN, ids=HIDDEN.values())
def test_a_hidden_character_in_an_e_mail_is_shown_to_staff_in_the_console_and_the_cli(
    staff_console: Console, config: Path, tmp_path: Path, char: str
) -> None:
    marker = f"[U+{ord(char):04X}]"
    raw = email_change_raw(tag="hidden", subject=f"Update practice{char} email address")
    raw = raw.replace(b"Please update our", f"Please update{char} our".encode())
    said = ingest_files(config, tmp_path, {"hidden": raw})
    ref = said["hidden"].split()[1].rstrip(",")
    page = staff_console.client.get(f"/requests/{ref}")
    assert page.status_code == 200
    assert char not in page.text
    assert f"Please update{marker} our" in page.text  # in the e-mail as shown
    shown = run_cli(config, "requests", "show", ref)
    assert shown.exit_code == 0, shown.output
    assert char not in shown.stdout
    assert f"  | Please update{marker} our" in shown.stdout
