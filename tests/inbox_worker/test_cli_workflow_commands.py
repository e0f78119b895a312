"""The workflow commands' edges: bad input of every kind gives one line, the documented exit
code (1 refused by the workflow, 2 usage or bad input), and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from pcse_intake.inbox_worker.cli import cli
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.models import (
    HistoryEntry,
    InboundMessage,
    Organisation,
    OutboxMessage,
    Request,
    Staff,
    VerificationCall,
)
from tests.conftest import CORPUS
from tests.staff_support import CliStaff, with_credentials

Run = Callable[..., Result]
PASSWORD = "Correct-Horse-42!\n"
DATA = resources.files("pcse_intake").joinpath("data")


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    return path


@pytest.fixture
def run(config: Path, cli_staff: CliStaff) -> Run:
    """Run one command; a decision gets `--credentials-stdin` and a fresh code for `--by`."""
    runner = CliRunner()

    def _run(*args: str, input: str | None = None, code: int = 0) -> Result:
        if input is None:
            args, input = with_credentials(cli_staff, args)
        result = runner.invoke(cli, ["--config", str(config), *args], input=input)
        assert result.exit_code == code, (args, result.output, result.exception)
        if code:
            # One line says what is wrong (click adds its usage hint above option errors).
            errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
            assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
        return result

    return _run


@pytest.fixture
def seeded(run: Run, cli_staff: CliStaff) -> Run:
    run("db", "upgrade")
    run("registry", "import", str(DATA.joinpath("epraccur_sample.csv")))
    run("registry", "import", str(DATA.joinpath("practice_contacts.csv")))
    cli_staff.add("alice", "verifier")
    cli_staff.add("bob", "approver")
    run("ingest", str(CORPUS / "037.eml"))
    return run


@pytest.fixture
def counts(db_url: str) -> Callable[[], dict[str, int]]:
    def _counts() -> dict[str, int]:
        engine = make_engine(db_url)
        try:
            with transaction(make_sessionmaker(engine)) as s:
                tables = (
                    HistoryEntry,
                    InboundMessage,
                    Organisation,
                    OutboxMessage,
                    Request,
                    Staff,
                    VerificationCall,
                )
                out = {
                    t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0
                    for t in tables
                }
                out["version"] = s.scalar(select(func.sum(Request.version))) or 0
                return out
        finally:
            engine.dispose()

    return _counts


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("requests", "show", "PCSE-999999"), 1, "there is no request PCSE-999999"),
        (("requests", "show", "banana"), 1, "not a request reference"),
        (("approve", "PCSE-000001", "--by", "bob"), 1, "it must be verified"),
        (("approve", "PCSE-000001", "--by", "alice"), 1, "alice is a verifier"),
        (("approve", "PCSE-000001", "--by", "nobody"), 1, "not signed in"),
        (("verify", "PCSE-999999", "--by", "alice", "--outcome", "confirmed"), 1, "no request"),
        (
            (
                "verify",
                "PCSE-000001",
                "--by",
                "alice",
                "--outcome",
                "confirmed",
                "--phone",
                "07700900123",
            ),
            1,
            "needs a note",
        ),
        (
            (
                "verify",
                "PCSE-000001",
                "--by",
                "alice",
                "--outcome",
                "confirmed",
                "--phone",
                "ring reception",
            ),
            2,
            "is not a telephone number",
        ),
        (("verify", "PCSE-000001", "--by", "alice", "--outcome", "perhaps"), 2, "perhaps"),
        (("verify", "PCSE-000001", "--outcome", "confirmed"), 2, "--by"),
        (("reject", "PCSE-000001", "--by", "bob", "--reason", " "), 2, "needs a reason"),
        (("cancel", "PCSE-000001", "--by", "bob", "--reason", "x"), 1, "no e-mail change waiting"),
        (("cancel", "PCSE-000001", "--by", "alice", "--reason", "x"), 1, "alice is a verifier"),
        (("cancel", "PCSE-000001", "--by", "bob", "--reason", " "), 2, "needs a reason"),
        (("cancel", "PCSE-000001", "--by", "bob"), 2, "--reason"),
        (("requests", "list", "--state", "lost"), 2, "lost"),
        (("ingest", "/nonexistent/x.eml"), 2, "cannot read /nonexistent/x.eml"),
        (("registry", "import", "/nonexistent/x.csv"), 2, "cannot read /nonexistent/x.csv"),
        (("staff", "add", "alice", "--role", "admin", "--password-stdin"), 1, "already exists"),
        (("staff", "add", "zed", "--role", "boss", "--password-stdin"), 2, "boss"),
    ],
)
def test_bad_input_is_one_line_with_the_documented_exit_code_and_changes_nothing(
    seeded: Run,
    counts: Callable[[], dict[str, int]],
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    before = counts()
    stdin = PASSWORD if args[0] == "staff" else None
    result = seeded(*args, input=stdin, code=code)
    assert message in result.stderr
    assert counts() == before


def test_a_weak_password_is_refused_with_the_rule(seeded: Run) -> None:
    result = seeded(
        "staff", "add", "zed", "--role", "admin", "--password-stdin", input="password\n", code=2
    )
    assert "at least 12 characters" in result.stderr and "upper-case" in result.stderr


def test_the_password_is_asked_twice_when_not_on_stdin(seeded: Run) -> None:
    result = seeded("staff", "add", "zed", "--role", "admin", input=PASSWORD * 2)
    assert "staff account zed (admin) created" in result.output


def test_a_bad_csv_row_names_its_line_and_imports_nothing(
    seeded: Run, counts: Callable[[], dict[str, int]], tmp_path: Path
) -> None:
    good = DATA.joinpath("epraccur_sample.csv").read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "epraccur.csv"
    bad = good[3].replace('"A"', '"Q"', 1)
    broken.write_text("\n".join([*good[:3], bad, *good[4:]]) + "\n", encoding="utf-8")
    before = counts()
    result = seeded("registry", "import", str(broken), code=2)
    assert "epraccur.csv line 4: status code must be" in result.stderr
    assert counts() == before


def test_an_unreadable_file_among_several_records_none_of_them(
    seeded: Run, counts: Callable[[], dict[str, int]]
) -> None:
    before = counts()
    seeded("ingest", str(CORPUS / "012.eml"), "/nonexistent/y.eml", code=2)
    assert counts() == before


def test_an_unmigrated_database_is_a_usage_error(run: Run) -> None:
    result = run("requests", "list", code=2)
    assert "pcse-intake db upgrade" in result.stderr


def test_requests_list_prints_a_table_and_json(seeded: Run) -> None:
    table = seeded("requests", "list").output.splitlines()
    assert table[0].split()[:3] == ["REF", "STATE", "KIND"]
    assert table[1].startswith("PCSE-000001  awaiting_verification  email_change")
    [row] = json.loads(seeded("requests", "list", "--json").output)
    assert row["sender"] == "amelia.drinkwater@nhs.net" and row["ods_code"] == "H83004"
    assert seeded("requests", "list", "--state", "completed").output == (
        "no requests in state completed\n"
    )
    assert json.loads(seeded("requests", "list", "--state", "verified", "--json").output) == []


def test_requests_show_reads_for_a_person(seeded: Run) -> None:
    text = seeded("requests", "show", "PCSE-000001").output
    assert "number to call (from the registry): +441184960190 (H83004 Glebe House Surgery)" in text
    assert "practice e-mail of H83004: glebehouse.surgery@nhs.net -> glebehouse.admin@nhs.net" in (
        text
    )
    assert "[pending] acknowledgement to amelia.drinkwater@nhs.net" in text


def test_no_answer_is_counted_on_the_command_line(seeded: Run) -> None:
    args = ("verify", "PCSE-000001", "--by", "alice", "--outcome", "no_answer")
    assert "(1 unanswered)" in seeded(*args).output
    assert "is now awaiting_verification (2 unanswered)" in seeded(*args).output


def test_a_message_that_fails_is_kept_and_the_others_are_recorded(
    seeded: Run, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    from pcse_intake.parsers import parse as real_parse
    from pcse_intake.workflows import intake

    poison = (CORPUS / "012.eml").read_bytes()

    def parse(raw: bytes, options: object = None) -> object:
        if raw == poison:
            raise RuntimeError("parser defect")
        return real_parse(raw, options)  # type: ignore[arg-type]

    monkeypatch.setattr(intake, "parse", parse)
    result = seeded("ingest", str(CORPUS / "012.eml"), str(CORPUS / "024.eml"), code=1)
    assert "1 of 2 message(s) could not be processed" in result.stderr
    assert "failed (attempt 1): RuntimeError: parser defect" in result.output
    engine = make_engine(db_url)
    try:
        with transaction(make_sessionmaker(engine)) as s:
            kept = s.scalars(select(InboundMessage).where(InboundMessage.raw == poison)).one()
            assert (kept.status, kept.attempts) == ("received", 1)
            assert s.scalar(select(func.count(Request.id))) == 2  # 037 and 024
    finally:
        engine.dispose()


def test_show_prints_the_practices_words_without_terminal_control_characters(
    seeded: Run, tmp_path: Path
) -> None:
    raw = (CORPUS / "024.eml").read_bytes().replace(b"\r\n\r\n", b"\r\n\r\n\x1b[2J", 1)
    path = tmp_path / "escape.eml"
    path.write_bytes(raw)
    [row] = json.loads(seeded("ingest", "--json", str(path)).output)
    text = seeded("requests", "show", row["ref"]).output
    assert "\x1b" not in text and "Message " in text and "  | " in text


def test_an_admin_places_and_releases_a_legal_hold_and_others_are_refused(
    seeded: Run, cli_staff: CliStaff
) -> None:
    cli_staff.add("root", "admin")
    hold = ("hold", "PCSE-000001", "--reason", "ICO request")
    seeded(*hold, "--by", "bob", code=1)  # an approver may not
    seeded(*hold, "--by", "root", "--release", code=1)  # nothing to release yet
    assert "legal hold placed" in seeded(*hold, "--by", "root").output
    seeded(*hold, "--by", "root", code=1)  # already held
    assert "legal hold released" in seeded(*hold, "--by", "root", "--release").output
    history = seeded("requests", "show", "PCSE-000001").output
    assert "legal_hold_placed" in history and "legal_hold_released" in history
    seeded("hold", "PCSE-000001", "--by", "root", "--reason", " ", code=2)


def test_an_approved_e_mail_change_waits_is_shown_and_can_be_cancelled(seeded: Run) -> None:
    seeded(
        "verify", "PCSE-000001", "--by", "alice", "--outcome", "confirmed",
        "--notes", "the practice manager confirmed the new address",
    )  # fmt: skip
    assert "is now completed" in seeded("approve", "PCSE-000001", "--by", "bob").output
    shown = json.loads(seeded("requests", "show", "PCSE-000001", "--json").output)
    assert shown["change"]["status"] == "scheduled"
    assert shown["change"]["text"].startswith("Takes effect at ")
    assert shown["change"]["text"].endswith(" unless stopped")
    text = seeded("requests", "show", "PCSE-000001").output
    assert "pcse-intake cancel PCSE-000001" in text
    done = seeded("cancel", "PCSE-000001", "--by", "bob", "--reason", "the practice phoned us")
    assert "is now cancelled" in done.output
    shown = json.loads(seeded("requests", "show", "PCSE-000001", "--json").output)
    assert (shown["state"], shown["change"]["status"]) == ("cancelled", "cancelled")
    assert [o["template"] for o in shown["outbox"]][-2:] == ["email_change_stopped"] * 2
    again = seeded("cancel", "PCSE-000001", "--by", "bob", "--reason", "again", code=1)
    assert "no e-mail change waiting" in again.stderr
    listed = json.loads(seeded("requests", "list", "--state", "cancelled", "--json").output)
    assert [r["ref"] for r in listed] == ["PCSE-000001"]
