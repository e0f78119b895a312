"""Does an nhs.net local part name a person (jane.doe2) or an organisation (greenlane.admin)?

The judgement (docs/parser.md): split the local part on '.', '_' and '-' and drop trailing
digits; it is personal when it has two or more parts, the first is a known first name (from
the ~48k-name list that `gender-guesser` ships) or an initial, and no part is an
organisational word (surgery, admin, reception...) or carries an ODS code.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

ORGANISATIONAL_WORDS = frozenset(
    [
        "surgery",
        "surgeries",
        "practice",
        "practices",
        "medical",
        "medicalcentre",
        "centre",
        "center",
        "health",
        "healthcentre",
        "clinic",
        "clinics",
        "group",
        "partnership",
        "partners",
        "pcn",
        "icb",
        "ccg",
        "nhs",
        "gp",
        "gps",
        "dental",
        "dentist",
        "dentists",
        "dentalpractice",
        "optical",
        "opticians",
        "optician",
        "optometrist",
        "optometrists",
        "pharmacy",
        "pharmacies",
        "chemist",
        "admin",
        "administration",
        "administrator",
        "reception",
        "receptionist",
        "office",
        "enquiries",
        "enquiry",
        "info",
        "information",
        "contact",
        "contacts",
        "team",
        "generic",
        "mailbox",
        "mail",
        "inbox",
        "accounts",
        "finance",
        "manager",
        "managers",
        "management",
        "secretary",
        "secretaries",
        "prescriptions",
        "prescribing",
        "referrals",
        "appointments",
        "booking",
        "bookings",
        "data",
        "records",
        "hr",
        "operations",
        "ops",
        "business",
        "support",
        "service",
        "services",
        "general",
        "main",
        "shared",
        "mc",
        "hc",
        "mp",
        "sc",
        "lmc",
        "primarycare",
        "primary",
        "care",
        "family",
        "doctors",
        "branch",
        "site",
    ]
)
_SPLIT = re.compile(r"[._\-+]+")
_ODS_INSIDE = re.compile(r"[a-z]\d{5}|f[a-z0-9]{4}\d|v\d{5,6}|tp[a-z0-9]{3,4}")


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Lower-case first names from gender-guesser's data file (read once, lazily)."""
    names: set[str] = set()
    data = resources.files("gender_guesser").joinpath("data/nam_dict.txt")
    with data.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("#") or len(line) < 4:
                continue
            name = line[3:29].strip().lower()
            # multi-word entries use '+' as the separator ("Mary+Ann")
            for piece in name.replace("+", " ").split():
                if piece.isalpha():
                    names.add(piece)
    return frozenset(names)


def looks_personal(address: str, ods_code: str | None = None) -> bool:
    local = address.split("@", 1)[0].lower()
    if ods_code and ods_code.lower() in local:
        return False
    if _ODS_INSIDE.search(local):
        return False
    parts = [p.rstrip("0123456789") for p in _SPLIT.split(local)]
    parts = [p for p in parts if p]
    if len(parts) < 2:
        return False
    if any(p in ORGANISATIONAL_WORDS or _has_org_word(p) for p in parts):
        return False
    first = parts[0]
    return len(first) == 1 or first in first_names()


def _has_org_word(part: str) -> bool:
    """'whinmoorsurgery' or 'chantrymedicalcentre': a run-together organisation word."""
    return len(part) > 6 and any(part.endswith(w) for w in ORGANISATIONAL_WORDS if len(w) >= 5)
