"""From .eml to completed through the command line, on SQLite and on PostgreSQL.

Each test drives `pcse-intake` with click's CliRunner and a config.toml that points at the
test database: registry import, ingest of corpus e-mails, requests list/show, verify, approve
and reject (each with the staff member's password and authenticator code on standard input);
it checks the registry change and the exact outbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.cli import cli
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.models import OutboxMessage
from pcse_intake.workflows.pending_changes import apply_due_changes
from pcse_intake.workflows.registry import main_contacts, organisation
from tests.conftest import CORPUS
from tests.staff_support import CliStaff, with_credentials

Run = Callable[..., Result]


@pytest.fixture
def run(db_url: str, tmp_path: Path, cli_staff: CliStaff) -> Run:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    runner = CliRunner()

    def _run(*args: str, code: int = 0) -> Result:
        args, input = with_credentials(cli_staff, args)
        result = runner.invoke(cli, ["--config", str(config), *args], input=input)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    data = resources.files("pcse_intake").joinpath("data")
    _run("db", "upgrade")
    _run("registry", "import", str(data.joinpath("epraccur_sample.csv")))
    _run("registry", "import", str(data.joinpath("practice_contacts.csv")))
    cli_staff.add("alice", "verifier")
    cli_staff.add("bob", "approver")
    return _run


@pytest.fixture
def registry(db_url: str) -> Callable[[str], dict[str, Any]]:
    """Read an organisation (and its main contacts) straight from the database."""

    def _read(code: str) -> dict[str, Any]:
        engine = make_engine(db_url)
        try:
            with transaction(make_sessionmaker(engine)) as s:
                org = organisation(s, code)
                assert org is not None, code
                return {
                    "name": org.name,
                    "email": org.email,
                    "parent": org.parent.ods_code if org.parent else None,
                    "contacts": [p.email for p in main_contacts(s, org)],
                }
        finally:
            engine.dispose()

    return _read


def ingest(run: Run, name: str) -> str:
    [row] = json.loads(run("ingest", "--json", str(CORPUS / name)).output)
    assert row["status"] == "request", row
    return str(row["ref"])


def show(run: Run, ref: str) -> dict[str, Any]:
    detail: dict[str, Any] = json.loads(run("requests", "show", ref, "--json").output)
    return detail


def outbox(detail: dict[str, Any]) -> list[tuple[str, str, str]]:
    for row in detail["outbox"]:
        assert detail["ref"] in row["subject"]
    return [(o["template"], o["to"], o["status"]) for o in detail["outbox"]]


def verify_and_approve(run: Run, ref: str) -> dict[str, Any]:
    note = "the practice manager confirmed it on the call"  # needed from a sender not on record
    verified = run("verify", ref, "--by", "alice", "--outcome", "confirmed", "--notes", note)
    assert "is now verified" in verified.output
    assert "is now completed" in run("approve", ref, "--by", "bob").output
    detail = show(run, ref)
    assert detail["state"] == "completed"
    states = [h["state"] for h in detail["history"] if h["action"] != "registry_changed"]
    assert states[0] == "received" and states[-1] == "completed"
    return detail


def test_email_change_from_eml_to_completed(
    run: Run, registry: Callable[..., Any], db_url: str
) -> None:
    ref = ingest(run, "037.eml")
    listed = json.loads(run("requests", "list", "--json").output)
    assert [(r["ref"], r["kind"], r["state"]) for r in listed] == [
        (ref, "email_change", "awaiting_verification")
    ]
    assert {"received_at", "sender"} <= set(listed[0])
    assert registry("H83004")["email"] == "glebehouse.surgery@nhs.net"
    detail = verify_and_approve(run, ref)
    # The cooling-off period: the old address keeps the records until the change is due.
    assert registry("H83004")["email"] == "glebehouse.surgery@nhs.net"
    assert detail["change"]["status"] == "scheduled"
    assert apply_due(db_url, detail["change"]["effective_at"]) == [ref]
    assert registry("H83004")["email"] == "glebehouse.admin@nhs.net"
    assert show(run, ref)["change"]["status"] == "applied"
    assert outbox(detail) == [
        ("acknowledgement", "amelia.drinkwater@nhs.net", "pending"),
        ("email_change_confirmation", "glebehouse.admin@nhs.net", "pending"),
        ("email_change_notice", "glebehouse.surgery@nhs.net", "pending"),
    ]
    assert detail["request"]["practice"]["new_email"] == "glebehouse.admin@nhs.net"
    assert "cooling-off" in detail["effect_note"]


def test_branch_setup_from_eml_to_completed(run: Run, registry: Callable[..., Any]) -> None:
    ref = ingest(run, "020.eml")
    detail = verify_and_approve(run, ref)
    assert registry("P86512001") == {
        "name": "Chorlton Park Surgery",
        "email": None,
        "parent": "P86512",
        "contacts": ["harriet.lomax@nhs.net"],
    }
    assert outbox(detail) == [
        ("acknowledgement", "harriet.lomax@nhs.net", "pending"),
        ("branch_access", "harriet.lomax@nhs.net", "pending"),
    ]


def test_main_contact_extension_from_eml_to_completed(
    run: Run, registry: Callable[..., Any]
) -> None:
    ref = ingest(run, "007.eml")
    assert registry("L84677")["contacts"] == []
    detail = verify_and_approve(run, ref)
    assert registry("L84677")["contacts"] == ["peter.vance@nhs.net"]
    assert registry("L84502")["contacts"] == ["peter.vance@nhs.net"]  # kept at the old one
    assert outbox(detail) == [
        ("acknowledgement", "martina.coyle@nhs.net", "pending"),
        ("main_contact_extension_confirmation", "peter.vance@nhs.net", "pending"),
    ]


def test_new_practice_setup_from_eml_to_completed(run: Run, registry: Callable[..., Any]) -> None:
    ref = ingest(run, "025.eml")
    detail = verify_and_approve(run, ref)
    assert registry("C84890")["contacts"] == ["tessa.quarmby@nhs.net"]
    assert outbox(detail) == [
        ("acknowledgement", "tessa.quarmby@nhs.net", "pending"),
        ("new_practice_access", "tessa.quarmby@nhs.net", "pending"),
    ]


def test_rejection_queues_the_reason_to_the_sender_and_changes_nothing(
    run: Run, registry: Callable[..., Any]
) -> None:
    ref = ingest(run, "011.eml")
    before = registry("G84775")
    reason = "The new address must be an nhs.net organisation mailbox."
    assert "is now rejected" in run("reject", ref, "--by", "bob", "--reason", reason).output
    detail = show(run, ref)
    assert detail["state"] == "rejected" and registry("G84775") == before
    assert outbox(detail)[-1] == ("rejection", "desmond.achterberg@nhs.net", "pending")
    assert detail["history"][-1]["note"] == reason
    run("approve", ref, "--by", "bob", code=1)


def test_missing_information_then_the_practices_reply_completes_it(
    run: Run, registry: Callable[..., Any], tmp_path: Path, db_url: str
) -> None:
    ref = ingest(run, "015.eml")
    detail = show(run, ref)
    assert detail["state"] == "awaiting_information"
    assert detail["missing"] == ["practice.current_email"]
    [ask] = detail["outbox"]
    assert ask["template"] == "missing_information"
    message_id = _outbox_message_id(db_url, ref)
    reply = tmp_path / "reply.eml"
    reply.write_bytes(
        (
            'From: "OBI, Priscilla (LAVENDER HILL SURGERY)" <priscilla.obi@nhs.net>\r\n'
            "To: pcse.datamanager@nhs.net\r\n"
            f"Subject: RE: {ask['subject']}\r\n"
            "Message-ID: <reply-015@nhs.net>\r\n"
            f"In-Reply-To: {message_id}\r\n"
            f"References: {message_id}\r\n"
            "Date: Fri, 07 Mar 2025 09:00:00 +0000\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Hello,\r\n\r\nOur current practice email address is "
            "lavenderhill.reception@nhs.net.\r\n\r\nKind regards,\r\nPriscilla Obi\r\n"
        ).encode()
    )
    [row] = json.loads(run("ingest", "--json", str(reply)).output)
    assert (row["status"], row["ref"]) == ("reply", ref)
    detail = show(run, ref)
    assert detail["state"] == "awaiting_verification" and detail["missing"] == []
    assert detail["request"]["practice"]["current_email"] == "lavenderhill.reception@nhs.net"
    detail = verify_and_approve(run, ref)
    apply_due(db_url, detail["change"]["effective_at"])
    assert registry("G85903")["email"] == "lavenderhill.surgery@nhs.net"
    assert outbox(detail) == [
        ("missing_information", "priscilla.obi@nhs.net", "pending"),
        ("acknowledgement", "priscilla.obi@nhs.net", "pending"),
        ("email_change_confirmation", "lavenderhill.surgery@nhs.net", "pending"),
        ("email_change_notice", "lavenderhill.reception@nhs.net", "pending"),
    ]


def test_four_eyes_refuses_the_verifier_as_approver(run: Run, registry: Callable[..., Any]) -> None:
    ref = ingest(run, "032.eml")
    run("verify", ref, "--by", "bob", "--outcome", "confirmed", "--notes", "confirmed on the call")
    refused = run("approve", ref, "--by", "bob", code=1)
    assert "different person" in refused.output
    assert registry("P82919")["email"] == "pendleview.mc@nhs.net"
    assert show(run, ref)["state"] == "verified"


def test_ingesting_the_same_file_twice_records_it_once(run: Run) -> None:
    ref = ingest(run, "037.eml")
    [again] = json.loads(run("ingest", "--json", str(CORPUS / "037.eml")).output)
    assert again["duplicate"] and again["ref"] == ref and again["outbox_ids"] == []
    assert len(json.loads(run("requests", "list", "--json").output)) == 1


def apply_due(db_url: str, when: str) -> list[str]:
    """What the daemon's `changes` job does at `when` (an ISO time)."""
    engine = make_engine(db_url)
    try:
        with transaction(make_sessionmaker(engine)) as s:
            moment = datetime.fromisoformat(when)
            return apply_due_changes(s, now=moment, settings=Settings()).applied
    finally:
        engine.dispose()


def _outbox_message_id(db_url: str, ref: str) -> str:
    """The Message-ID our missing-information e-mail carries (what the practice replies to)."""
    engine = make_engine(db_url)
    try:
        with transaction(make_sessionmaker(engine)) as s:
            return s.scalars(
                select(OutboxMessage.message_id_header).where(
                    OutboxMessage.request_id == int(ref[5:])
                )
            ).one()
    finally:
        engine.dispose()
