"""Reading a practice's short answer to our question ("our current address is ...").

A reply such as "Our current practice email address is x@nhs.net" is not a request of any
kind to the parser, so it yields no fields. When the request is waiting for information, we
look in the reply's own words (quotes already removed by the parser) for exactly the kinds of
value still missing: an e-mail address, a telephone number or an ODS code. A value is taken
only when the reply holds exactly one candidate for exactly one missing field of that kind;
names and addresses are left to staff, who can correct the request.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

from pcse_intake.workflows.fields import get_path, leaves, set_path
from pcse_intake.workflows.registry import org_type_of

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CODE = re.compile(r"\b[A-Z]{1,2}[A-Z0-9]{3,8}\b")


def _kind_of(path: str) -> str | None:
    leaf = path.rsplit(".", 1)[-1]
    if leaf in ("email", "current_email", "new_email"):
        return "email"
    if leaf == "phone":
        return "phone"
    if leaf == "ods_code":
        return "ods_code"
    return None


def _candidates(text: str, kind: str, known: set[str]) -> list[str]:
    found: list[str] = []
    if kind == "email":
        found = [m.group(0).rstrip(".").lower() for m in _EMAIL.finditer(text)]
    elif kind == "phone":
        found = [
            phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            for m in phonenumbers.PhoneNumberMatcher(text, "GB")
        ]
    elif kind == "ods_code":
        found = [
            m.group(0)
            for m in _CODE.finditer(text)
            if any(c.isdigit() for c in m.group(0)) and org_type_of(m.group(0))
        ]
    unique: list[str] = []
    for value in found:
        if value not in known and value not in unique:
            unique.append(value)
    return unique


def answers(
    missing: list[str], fields: dict[str, Any], text: str, *, ignore: set[str]
) -> dict[str, Any]:
    """Fields (as a `request` tree) that the reply's text answers unambiguously."""
    known = {str(v).lower() for v in leaves(fields).values()} | {i.lower() for i in ignore}
    known |= {str(v) for v in leaves(fields).values()}
    by_kind: dict[str, list[str]] = {}
    for path in missing:
        kind = _kind_of(path)
        if kind is not None and get_path(fields, path) in (None, ""):
            by_kind.setdefault(kind, []).append(path)
    out: dict[str, Any] = {}
    for kind, paths in by_kind.items():
        if len(paths) != 1:
            continue  # two missing e-mail addresses: we cannot tell which is which
        values = _candidates(text, kind, known)
        if len(values) == 1:
            out = set_path(out, paths[0], values[0])
    return out
