"""Registry import: the epraccur layout and the contacts file, all or nothing."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.errors import RegistryImportError
from pcse_intake.workflows.models import HistoryEntry, Organisation
from pcse_intake.workflows.registry import main_contacts, organisation
from pcse_intake.workflows.registry_import import EPRACCUR_COLUMNS, import_registry, readable
from tests.conftest import TestDatabase
from tests.workflows.conftest import NOW, sample


def epraccur_row(code: str, name: str = "TEST SURGERY", **over: str) -> list[str]:
    row = dict.fromkeys(EPRACCUR_COLUMNS, "")
    row.update(
        organisation_code=code,
        name=name,
        address_line_1="1 HIGH STREET",
        address_line_2="LEEDS",
        postcode="LS1 1AA",
        status_code="A",
        contact_telephone_number="0113 496 0001",
    )
    row.update(over)
    return list(row.values())


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def test_the_sample_extract_loads_every_kind_of_organisation(database: TestDatabase) -> None:
    with transaction(database.sessions) as s:
        result = import_registry(s, sample("epraccur_sample.csv"), name="e", by="t", now=NOW)
        assert (result.layout, result.created) == ("epraccur", result.rows)
        types = set(s.scalars(select(Organisation.org_type)))
        assert types == {"gp", "pharmacy", "dental", "optical"}
        branch = organisation(s, "B83855001")
        assert branch is not None and branch.parent is not None
        assert branch.parent.ods_code == "B83855"
        thorpe = organisation(s, "B83855")
        assert thorpe is not None
        assert (thorpe.name, thorpe.phone, thorpe.postcode) == (
            "Thorpe Edge Surgery",
            "+441134960682",
            "LS10 3RB",
        )
        closed = organisation(s, "C84999")
        assert closed is not None and not closed.is_open


def test_importing_again_changes_nothing_and_writes_no_history(database: TestDatabase) -> None:
    data = sample("epraccur_sample.csv")
    with transaction(database.sessions) as s:
        import_registry(s, data, name="e", by="t", now=NOW)
        before = s.scalar(select(func.count(HistoryEntry.id)))
        again = import_registry(s, data, name="e", by="t", now=NOW)
        assert (again.created, again.updated, again.unchanged) == (0, 0, again.rows)
        assert s.scalar(select(func.count(HistoryEntry.id))) == before


def test_the_contacts_file_sets_practice_emails_and_main_contacts(database: TestDatabase) -> None:
    with transaction(database.sessions) as s:
        import_registry(s, sample("epraccur_sample.csv"), name="e", by="t", now=NOW)
        result = import_registry(s, sample("practice_contacts.csv"), name="c", by="t", now=NOW)
        assert result.layout == "contacts"
        org = organisation(s, "L84502")
        assert org is not None and org.email == "kingsholm.surgery@nhs.net"
        assert [p.email for p in main_contacts(s, org)] == ["peter.vance@nhs.net"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (epraccur_row("NOTACODE!"), "line 2: 'NOTACODE!' is not an ODS code"),
        (epraccur_row("B12345", name=""), "line 2: B12345 has no name"),
        (epraccur_row("B12345", status_code="X"), "line 2: status code must be"),
        (epraccur_row("B12345", postcode="NOWHERE"), "line 2: 'NOWHERE' is not a UK postcode"),
        (epraccur_row("B12345", contact_telephone_number="call me"), "line 2: 'call me'"),
        (["B12345", "SHORT ROW"], "line 2: 2 columns"),
        (epraccur_row("A11111"), "line 2: A11111 appears twice"),
        (epraccur_row("Z99999001"), "line 2: branch Z99999001's main practice Z99999"),
    ],
)
def test_a_bad_row_is_named_by_its_line_and_nothing_is_imported(
    database: TestDatabase, bad: list[str], message: str
) -> None:
    data = csv_bytes([epraccur_row("A11111"), bad, epraccur_row("A22222")])
    with pytest.raises(RegistryImportError, match=message), transaction(database.sessions) as s:
        import_registry(s, data, name="x.csv", by="t", now=NOW)
    with transaction(database.sessions) as s:
        assert s.scalar(select(func.count(Organisation.id))) == 0


def test_a_contacts_row_for_an_unknown_code_imports_nothing(database: TestDatabase) -> None:
    header = ["ods_code", "practice_email", "main_contact_name", "main_contact_email"]
    with transaction(database.sessions) as s:
        import_registry(s, csv_bytes([epraccur_row("A11111")]), name="e", by="t", now=NOW)
    data = csv_bytes(
        [header, ["A11111", "a.surgery@nhs.net", "", ""], ["B99999", "b@nhs.net", "", ""]]
    )
    refused = pytest.raises(RegistryImportError, match="line 3: B99999 is not in the registry")
    with refused, transaction(database.sessions) as s:
        import_registry(s, data, name="c.csv", by="t", now=NOW)
    with transaction(database.sessions) as s:
        assert organisation(s, "A11111").email is None  # type: ignore[union-attr]
    bad_contact = csv_bytes([header, ["A11111", "a@nhs.net", "Dr Who", ""]])
    with pytest.raises(RegistryImportError, match="both"), transaction(database.sessions) as s:
        import_registry(s, bad_contact, name="c.csv", by="t", now=NOW)


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"\x00\x01binary", "NUL"), (b"ods_code,oops\r\n", "header")],
)
def test_files_that_are_not_registry_csv_are_refused(
    database: TestDatabase, data: bytes, message: str
) -> None:
    with pytest.raises(RegistryImportError, match=message), transaction(database.sessions) as s:
        import_registry(s, data, name="f.csv", by="t", now=NOW)


def test_capitals_from_ods_are_made_readable() -> None:
    assert readable("THORPE EDGE SURGERY") == "Thorpe Edge Surgery"
    assert readable("NHS WALK-IN CENTRE") == "NHS Walk-in Centre"
    assert readable("Already Mixed Case") == "Already Mixed Case"


def test_a_changed_row_is_updated_with_its_before_and_after_in_the_history(
    database: TestDatabase,
) -> None:
    first = csv_bytes([epraccur_row("A11111"), epraccur_row("A11111001", name="BRANCH")])
    moved = csv_bytes(
        [
            epraccur_row("A11111", contact_telephone_number="0113 496 0002"),
            epraccur_row("A11111001", name="BRANCH"),
        ]
    )
    with transaction(database.sessions) as s:
        import_registry(s, first, name="e", by="t", now=NOW)
        result = import_registry(s, moved, name="e", by="t", now=NOW)
        assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
        last = s.scalars(select(HistoryEntry).order_by(HistoryEntry.id.desc())).first()
        assert last is not None and last.before is not None and last.after is not None
        # Masked in the audit but for the last three digits (battery case 55).
        assert (last.before["phone"], last.after["phone"]) == ("+*********001", "+*********002")
        branch = organisation(s, "A11111001")
        assert branch is not None and branch.parent is not None
        assert branch.parent.ods_code == "A11111"
