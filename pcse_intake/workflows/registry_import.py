"""Loading the registry from CSV: NHS ODS `epraccur.csv` rows and PCSE's practice contacts.

Both files are read and checked in full before anything is written, so a bad row (named
by its line) leaves the registry exactly as it was.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.workflows.errors import InvalidValue, RegistryImportError
from pcse_intake.workflows.fields import normalise_email, normalise_phone
from pcse_intake.workflows.history import record
from pcse_intake.workflows.models import Organisation
from pcse_intake.workflows.registry import (
    branch_parent_code,
    find_or_create_person,
    org_snapshot,
    org_type_of,
    record_org_change,
    set_main_contact,
)

# epraccur.csv has no header row; these are its 27 columns (ODS "GP Practices" report).
EPRACCUR_COLUMNS = (
    "organisation_code",
    "name",
    "national_grouping",
    "high_level_health_geography",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "address_line_4",
    "address_line_5",
    "postcode",
    "open_date",
    "close_date",
    "status_code",  # A active, C closed, D dormant, P proposed
    "organisation_sub_type_code",
    "commissioner",
    "join_provider_purchaser_date",
    "left_provider_purchaser_date",
    "contact_telephone_number",
    "null_1",
    "null_2",
    "null_3",
    "amended_record_indicator",
    "null_4",
    "provider_purchaser",
    "null_5",
    "prescribing_setting",
    "null_6",
)
CONTACTS_HEADER = ("ods_code", "practice_email", "main_contact_name", "main_contact_email")
_MIN_EPRACCUR_COLUMNS = EPRACCUR_COLUMNS.index("contact_telephone_number") + 1
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})$")
_KEEP_UPPER = {"NHS", "GP", "PCN", "UK", "LLP", "LTD", "ICB", "CIC"}


@dataclass(frozen=True)
class OrganisationRow:
    line: int
    ods_code: str
    name: str
    org_type: str
    address: str | None
    postcode: str | None
    phone: str | None
    is_open: bool
    parent_code: str | None


@dataclass(frozen=True)
class ContactRow:
    line: int
    ods_code: str
    practice_email: str | None
    main_contact_name: str | None
    main_contact_email: str | None


@dataclass(frozen=True)
class ImportResult:
    layout: str  # "epraccur" | "contacts"
    rows: int
    created: int
    updated: int
    unchanged: int

    def to_json(self) -> dict[str, object]:
        return {
            "layout": self.layout,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


def decode(data: bytes, name: str) -> list[list[str]]:
    """The CSV rows; ODS files are ASCII in practice, but a Windows export may be cp1252."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything
        raise RegistryImportError(f"{name}: not a text file")
    if "\0" in text:
        raise RegistryImportError(f"{name}: not a CSV file (it contains NUL bytes)")
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise RegistryImportError(f"{name}: not a readable CSV file: {exc}") from None


def import_registry(
    session: Session, data: bytes, *, name: str, by: str, now: datetime
) -> ImportResult:
    """Import either layout (the contacts file is told apart by its header row)."""
    rows = decode(data, name)
    if not any(any(cell.strip() for cell in row) for row in rows):
        raise RegistryImportError(f"{name}: the file is empty")
    first = [c.strip().lower() for c in rows[0]]
    if tuple(first) == CONTACTS_HEADER:
        contacts = read_contacts(rows, name=name)
        return _apply_contacts(session, contacts, name=name, by=by, now=now)
    if first and first[0] in CONTACTS_HEADER:
        raise RegistryImportError(
            f"{name} line 1: a contacts file needs exactly the header {','.join(CONTACTS_HEADER)}"
        )
    organisations = read_epraccur(rows, name=name)
    return _apply_organisations(session, organisations, name=name, by=by, now=now)


def read_epraccur(rows: list[list[str]], *, name: str) -> list[OrganisationRow]:
    out: list[OrganisationRow] = []
    seen: set[str] = set()
    for line, row in enumerate(rows, start=1):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{name} line {line}"
        if len(row) < _MIN_EPRACCUR_COLUMNS:
            raise RegistryImportError(
                f"{where}: {len(row)} columns, but the epraccur layout has "
                f"{len(EPRACCUR_COLUMNS)} (is this the right file?)"
            )
        cells = dict(zip(EPRACCUR_COLUMNS, (c.strip() for c in row), strict=False))
        code = cells["organisation_code"].upper().replace(" ", "")
        org_type = org_type_of(code)
        if org_type is None:
            raise RegistryImportError(f"{where}: {code!r} is not an ODS code we recognise")
        if code in seen:
            raise RegistryImportError(f"{where}: {code} appears twice in the file")
        seen.add(code)
        if not cells["name"]:
            raise RegistryImportError(f"{where}: {code} has no name")
        status = cells["status_code"].upper()
        if status not in ("A", "C", "D", "P"):
            raise RegistryImportError(f"{where}: status code must be A, C, D or P, not {status!r}")
        postcode = _postcode(cells["postcode"], where)
        phone = None
        if cells["contact_telephone_number"]:
            try:
                phone = normalise_phone(cells["contact_telephone_number"])
            except InvalidValue as exc:
                raise RegistryImportError(f"{where}: {exc}") from None
        lines = [readable(cells[f"address_line_{i}"]) for i in range(1, 6)]
        address = ", ".join([p for p in lines if p] + ([postcode] if postcode else [])) or None
        out.append(
            OrganisationRow(
                line=line,
                ods_code=code,
                name=readable(cells["name"]),
                org_type=org_type,
                address=address,
                postcode=postcode,
                phone=phone,
                is_open=status in ("A", "P") and not cells["close_date"],
                parent_code=branch_parent_code(code),
            )
        )
    return out


def read_contacts(rows: list[list[str]], *, name: str) -> list[ContactRow]:
    out: list[ContactRow] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{name} line {line}"
        if len(row) != len(CONTACTS_HEADER):
            raise RegistryImportError(
                f"{where}: {len(row)} columns, expected {len(CONTACTS_HEADER)}"
            )
        code, email, contact_name, contact_email = (c.strip() for c in row)
        code = code.upper().replace(" ", "")
        if org_type_of(code) is None:
            raise RegistryImportError(f"{where}: {code!r} is not an ODS code we recognise")
        if bool(contact_name) != bool(contact_email):
            raise RegistryImportError(
                f"{where}: give both the main contact's name and e-mail, or neither"
            )
        try:
            practice_email = normalise_email(email) if email else None
            main_email = normalise_email(contact_email) if contact_email else None
        except InvalidValue as exc:
            raise RegistryImportError(f"{where}: {exc}") from None
        out.append(
            ContactRow(
                line, code, practice_email, " ".join(contact_name.split()) or None, main_email
            )
        )
    return out


def _apply_organisations(
    session: Session, rows: list[OrganisationRow], *, name: str, by: str, now: datetime
) -> ImportResult:
    held = {o.ods_code: o for o in session.scalars(select(Organisation))}
    in_file = {r.ods_code for r in rows}
    for row in rows:
        if row.parent_code and row.parent_code not in in_file and row.parent_code not in held:
            raise RegistryImportError(
                f"{name} line {row.line}: branch {row.ods_code}'s main practice "
                f"{row.parent_code} is neither in the file nor in the registry"
            )
    created = updated = unchanged = 0
    # Main sites first, so that every branch finds its parent; one flush per phase.
    for phase in (
        [r for r in rows if r.parent_code is None],
        [r for r in rows if r.parent_code is not None],
    ):
        changed: list[tuple[Organisation, dict[str, object] | None]] = []
        for row in phase:
            parent = held.get(row.parent_code) if row.parent_code else None
            values = {
                "name": row.name,
                "org_type": row.org_type,
                "address": row.address,
                "postcode": row.postcode,
                "phone": row.phone,
                "is_open": row.is_open,
                "parent_id": parent.id if parent is not None else None,
            }
            org = held.get(row.ods_code)
            if org is None:
                org = Organisation(
                    ods_code=row.ods_code, source="import", created_at=now, updated_at=now
                )
                session.add(org)
                held[row.ods_code] = org
                before = None
                created += 1
            elif all(getattr(org, key) == value for key, value in values.items()):
                unchanged += 1  # nothing written, not even updated_at
                continue
            else:
                before = org_snapshot(org)
                org.updated_at = now
                updated += 1
            for key, value in values.items():
                setattr(org, key, value)
            org.parent = parent
            changed.append((org, before))
        session.flush()
        for org, before in changed:
            record(
                session,
                actor=by,
                action="registry_imported",
                at=now,
                entity="organisation",
                entity_id=org.id,
                before=before,
                after=org_snapshot(org),
            )
    return ImportResult("epraccur", len(rows), created, updated, unchanged)


def _apply_contacts(
    session: Session, rows: list[ContactRow], *, name: str, by: str, now: datetime
) -> ImportResult:
    held = {o.ods_code: o for o in session.scalars(select(Organisation))}
    for row in rows:
        if row.ods_code not in held:
            raise RegistryImportError(
                f"{name} line {row.line}: {row.ods_code} is not in the registry; "
                "import the epraccur file first"
            )
    updated = unchanged = 0
    for row in rows:
        org = held[row.ods_code]
        changed = False
        if row.practice_email and org.email != row.practice_email:
            before = org_snapshot(org)
            org.email = row.practice_email
            org.updated_at = now
            record_org_change(
                session, org, before=before, actor=by, now=now, action="registry_imported"
            )
            changed = True
        if row.main_contact_email:
            person, _ = find_or_create_person(
                session, name=row.main_contact_name, email=row.main_contact_email, actor=by, now=now
            )
            changed = (
                set_main_contact(session, org=org, person=person, actor=by, now=now) or changed
            )
        if changed:
            updated += 1
        else:
            unchanged += 1
    return ImportResult("contacts", len(rows), 0, updated, unchanged)


def _postcode(text: str, where: str) -> str | None:
    if not text:
        return None
    match = _POSTCODE.match(text.upper().strip())
    if not match:
        raise RegistryImportError(f"{where}: {text!r} is not a UK postcode")
    return f"{match.group(1)} {match.group(2)}"


def readable(text: str) -> str:
    """ODS writes names and addresses in capitals; letters to practices read better without."""
    text = " ".join(text.split())
    if not text or text != text.upper() or not any(c.isalpha() for c in text):
        return text
    return " ".join(w if w in _KEEP_UPPER else w.capitalize() for w in text.split())
