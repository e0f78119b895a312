"""Labelled lines and sections: `label: value`, a value on the next line, headings that open
a party's section, composite values ('Kingsholm Surgery, L84 502, 3 Kingsholm Road, ...')."""

from __future__ import annotations

import re

from pcse_intake.parsers import normalise as nf
from pcse_intake.parsers.drafts import (
    OLD_CODE,
    ORG_WORDS,
    PERSON,
    PRIMARY,
    Draft,
    Extraction,
    is_org_named_after_people,
)
from pcse_intake.parsers.labels import field_of, role_of, without_remarks
from pcse_intake.parsers.model import RequestKind
from pcse_intake.parsers.prose import says_i_am_contact, sender_as_contact

_SEPARATOR = re.compile(r"[ \t]{0,8}(?::|\s[-\u2013\u2014=]\s|\t{1,8}|[ \t]{3,8})[ \t]{0,8}")
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u00b7\u25aa\u25cf\u2013>o]\s+|\d{1,2}[.)]\s+)")


_EMAIL_FIELDS = frozenset(("current_email", "new_email", "contact_email", "email"))


def _split_label(line: str) -> tuple[str, str] | None:
    # a separator inside a parenthetical remark is not the label's ("Email (new - from
    # Monday): x@...")
    m = next((s for s in _SEPARATOR.finditer(line) if not _in_parenthesis(line, s.start())), None)
    if m is None or m.start() == 0:
        return None
    label, value = line[: m.start()], line[m.end() :]
    bare = without_remarks(label)  # a remark does not make a label a sentence
    if len(bare) > 90 or len(bare.split()) > 16 or "@" in label:
        return None
    if ":" not in m.group(0) and says_i_am_contact(label):
        return None  # "I'll be the main contact - my email is ...": a sentence
    if sum(ch.isdigit() for ch in bare) >= 5:
        return None  # "The branch number is 0113 496 0442 - sorry": the value came first
    return label, value.strip()


def _in_parenthesis(line: str, at: int) -> bool:
    before = line[:at]
    return before.count("(") > before.count(")")


def labelled_pass(ex: Extraction, text: str) -> list[str]:
    """Read `label: value` lines and section headings; return the lines left for prose."""
    raw_lines = text.split("\n")
    bulleted = [bool(_BULLET.match(ln)) for ln in raw_lines]
    lines = [_BULLET.sub("", ln).strip() for ln in raw_lines]
    primary = PRIMARY[ex.kind]
    context = primary
    sectioned = False  # a heading or a party label has opened a section
    prose: list[str] = []
    # (field, role, label) of a label whose value follows on the next line(s)
    pending: tuple[str, str, str] | None = None
    open_address: tuple[Draft, list[str]] | None = None
    # unlabelled address lines under a section heading, waiting for their postcode
    section_address: list[str] = []
    fresh_section = False  # a heading opened a section and no line of it was read yet
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            pending = None
            open_address = None
            section_address = []
            prose.append("")
            continue
        split = _split_label(line)
        fld = field_of(split[0]) if split else None
        if split and fld and split[1] and fld in _EMAIL_FIELDS and "@" not in split[1]:
            # "Update practice email address - Greenlane Surgery, A12345" is a sentence
            prose.append(line)
            continue
        if split and fld and split[1]:
            label, value = split
            generic = role_of(label)
            role = ex.role(generic, context)
            if generic is not None and (fld == "name" or _is_heading_role(label)):
                context = role  # "Main practice: X", "Branch: Y" open a section
                sectioned = True
            open_address = _apply(ex, role, fld, label, value)
            pending = None
            continue
        if split and fld and not split[1] and len(without_remarks(split[0]).split()) <= 10:
            # "Address:" with the value on the next line(s), or a heading "Existing practice:"
            generic = role_of(split[0])
            if generic is not None:
                context = ex.role(generic, context)
                sectioned = True
                fresh_section = True
            heading = fld == "name" or re.search(
                r"\b(?:already|also|currently)\b|^details\b", split[0], re.I
            )
            if says_i_am_contact(split[0]):
                # "I'm already main contact at another practice:" opens it, with me as contact
                sender_as_contact(ex, ex.draft(context), line)
            pending = (
                None
                if generic is not None and heading
                else (fld, ex.role(generic, context), split[0])
            )
            open_address = None
            continue
        if not split and says_i_am_contact(line):
            if context != primary or sectioned:
                # "I am the main contact for the branch" under the branch's heading
                sender_as_contact(ex, ex.draft(_contact_section(ex, context, line)), line)
                prose.append("")
            else:
                prose.append(line)  # a sentence, not a heading; prose reads whose contact
            pending = None
            continue
        bare = line.rstrip(":").strip()
        generic = role_of(bare)
        if (
            generic is not None
            and len(bare.split()) <= 8
            and not nf.find_emails(bare)
            and not nf.find_ods(bare)
        ):
            context = ex.role(generic, context)  # a heading: "Details of your branch practice"
            sectioned = True
            fresh_section = True
            fld_h = field_of(bare)
            # "Branch address" / "- The existing practice telephone number": a heading that
            # is also a label, its value on the next line(s)
            pending = (fld_h, context, bare) if fld_h and fld_h != "name" else None
            open_address = None
            continue
        plain = without_remarks(bare)  # "New email (from 1st October)" alone on its line
        fld_alone = field_of(bare) if _label_alone(plain, bulleted[i - 1], split) else None
        if fld_alone and not nf.find_emails(bare) and not any(ch.isdigit() for ch in plain):
            pending = (fld_alone, ex.role(role_of(bare), context), bare)
            open_address = None
            continue
        if pending is not None:
            fld_p, role_p, label_p = pending
            if fld_p == "contact_email" and re.search(r"(?i)\bname\b", label_p):
                fld_p = "contact_name"  # "Main contact name and email": _contact reads both
            open_address = _apply(ex, role_p, fld_p, label_p, line)
            pending = None
            if fld_p == "contact_name" and "mail" in label_p.lower() and "@" not in line:
                # "Main contact name and email" / "Dr X" / "x@nhs.net": the e-mail follows
                pending = ("contact_email", role_p, label_p)
            continue
        if open_address is not None:
            draft, parts = open_address
            if (
                not _has_postcode_end(parts)
                and len(parts) < 6
                and not nf.find_emails(line)
                and (nf.POSTCODE.search(line) or not _NOT_AN_ADDRESS.search(line))
            ):
                parts.append(line)
                draft.fill("address", nf.address(", ".join(parts)), force=True)
                continue
            open_address = None
        in_section = context != primary or (sectioned and ex.kind is not RequestKind.EMAIL_CHANGE)
        if in_section and len(line.split()) > 5 and role_of(line) is not None:
            # "Our existing pharmacy is at 8 Church Road, ..." after the new one's section
            context = ex.role(role_of(line), context)
        first_of_section, fresh_section = fresh_section, False
        if (
            in_section
            and first_of_section
            and ex.draft(context).name is None
            and _names_organisation(line)
        ):
            ex.draft(context).fill("name", nf.collapse(line))  # "Hartley and Sons"
            prose.append("")
            continue
        if in_section and (section_address or _opens_address(ex.draft(context), line)):
            # "Main practice details:" / "Parkway Pharmacy, ODS FW3K8" / "27 Parkway" /
            # "Derby" / "DE1 3QT" / "Tel ...": the address runs down to its postcode
            if nf.POSTCODE.search(line) and section_address and _address_line(line, True):
                joined = ", ".join([*section_address, line])
                ex.draft(context).fill("address", nf.address(joined), force=True)
                section_address = []
                prose.append("")
                continue
            if _address_line(line, False):
                section_address.append(line)
                prose.append("")
                continue
            section_address = []
        if in_section or _looks_like_record(line):
            # a line of facts inside a party's section belongs to that party, not to prose
            _unlabelled(ex, context, line)
            prose.append("")
            continue
        prose.append(line)
    return prose


def _opens_address(draft: Draft, line: str) -> bool:
    """An unlabelled line that starts an address over several lines: a house number, flat
    or unit, or any address-like line once the section's organisation is named."""
    if nf.POSTCODE.search(line) or not _address_line(line, False):
        return False
    return bool(re.match(r"(?i)(\d|flat\b|unit\b|suite\b)", line)) or (
        draft.name is not None and draft.address is None
    )


def _names_organisation(line: str) -> bool:
    """The first line under a section heading, a name alone: no number, comma or sentence."""
    return (
        line[:1].isupper()
        and "," not in line
        and not any(ch.isdigit() for ch in line)
        and len(line.split()) <= 7
        and _address_line(line, False)
        and not re.match(r"(?i)(please|thanks|thank|kind|regards|hello|hi|dear)\b", line)
    )


def _address_line(line: str, with_postcode: bool) -> bool:
    """A line that can be part of an address: no e-mail, phone, code, person or sentence."""
    if with_postcode:
        line = nf.POSTCODE.sub(" ", line)
    return not (
        nf.find_emails(line)
        or nf.PHONE.search(line)
        or nf.find_ods(line)
        or PERSON.search(line)
        or ":" in line
        or len(line.split()) > 8
        or re.search(r"[.?!]\s*$", line)
        or _NOT_AN_ADDRESS.search(line)
        or re.match(r"(?i)\W*(tel|telephone|phone|mobile|fax|email|e-mail)\b", line)
    )


def _contact_section(ex: Extraction, context: str, line: str) -> str:
    """The party a sentence inside a section names ('... for the branch'), else the section's."""
    generic = role_of(line)
    return ex.role(generic, context) if generic is not None else context


def _label_alone(bare: str, bulleted: bool, split: tuple[str, str] | None) -> bool:
    """A label on its own line: short, or a longer FAQ bullet ('- The name of your existing
    practice') or a line ending in a colon, which is not a sentence."""
    words = len(bare.split())
    if words <= 5:
        return split is None
    return (
        words <= 16
        and (bulleted or split is not None)
        and not re.search(r"[.?!]", bare)
        and not re.match(r"(?i)(we|i|please|our|my|can|could|would)\b", bare)
    )


def _is_heading_role(label: str) -> bool:
    return bool(
        re.match(r"^\s*(details of|main practice|branch|existing|new|current)\b", label, re.I)
    )


def _has_postcode_end(parts: list[str]) -> bool:
    return bool(parts) and nf.POSTCODE.search(parts[-1]) is not None


def _looks_like_record(line: str) -> bool:
    """An unlabelled line of facts: an address with a postcode, a code, or a phone alone."""
    if nf.POSTCODE.search(line) and re.match(r"^\d", line):
        return True
    stripped = line.strip()
    return bool(nf.PHONE.fullmatch(stripped))


def _apply(
    ex: Extraction, role: str, fld: str, label: str, value: str
) -> tuple[Draft, list[str]] | None:
    draft = ex.draft(role)
    emails = nf.find_emails(value)
    if not emails and fld in ("current_email", "new_email", "contact_email", "email"):
        # "New email: greenlane@nhs" is still what was asked for; validation flags it
        broken = re.search(r"[^\s<>(),;:]{1,64}@[^\s<>(),;:]{0,255}", value)
        emails = [broken.group(0).lower().rstrip(".")] if broken else []
    if (
        fld in ("current_email_or_name", "new_email_or_name", "name")
        and emails
        and len(value.split()) == 1
    ):
        cue = label.lower()
        if fld == "current_email_or_name" or re.search(r"\b(current|old|from)\b", cue):
            draft.fill("current_email", emails[0])
        elif fld == "new_email_or_name" or re.search(r"\b(new|to)\b", cue):
            draft.fill("new_email", emails[0])
        else:
            ex.loose_emails.append(emails[0])
        return None
    if fld in ("address_or_current", "address_or_new"):
        if emails:
            draft.fill("current_email" if fld == "address_or_current" else "new_email", emails[0])
            return None
        fld = "address"
    if fld in ("current_email_or_name", "new_email_or_name"):
        fld = "name"
    if _is_nothing(value):
        return None
    if fld == "contact_name" and _ALREADY_CONTACT_AT.search(label):
        # "Already main contact at: Stonebridge Surgery (E85 017)": the value is the practice
        _composite(ex, draft, value, allow_name=True)
        _copy_contact(ex, draft)
        draft.fill("contact_email", ex.sender)
        draft.fill("contact_name", ex.signer)
        return None
    if fld == "name":
        _composite(ex, draft, value, allow_name=True)
    elif fld == "ods_code":
        codes = nf.find_ods(value)
        if codes:
            draft.fill("ods_code", codes[0])
        else:
            token = re.sub(r"[\s.\-]", "", value)
            if 3 <= len(token) <= 12 and token.isalnum() and any(c.isdigit() for c in token):
                draft.fill("ods_code", token.upper())
    elif fld == "org_type":
        draft.fill("org_type", nf.org_type(value))
    elif (
        fld == "address"
        and _ADDRESS_PART.fullmatch(label)
        and draft.address
        and not nf.POSTCODE.search(draft.address)
    ):
        # "Address: 1 High St" then "Town: Leeds", "Postcode: LS1 1AA" (postcode last)
        draft.fill("address", nf.address(f"{draft.address}, {value}"), force=True)
        return (draft, [draft.address or ""])
    elif fld == "address":
        if nf.find_emails(value) and not nf.POSTCODE.search(value):
            return None
        if not nf.POSTCODE.search(value) and _NOT_AN_ADDRESS.search(value):
            return None  # "we're still waiting on the landlord to confirm the unit number"
        postcode = nf.POSTCODE.search(value)
        if postcode and value[postcode.end() :].strip(" .,;"):
            # "5 Green Lane, Leeds, LS7 3AB. Telephone 0113 496 0200": the rest is more facts
            _composite(ex, draft, value[postcode.end() :], allow_name=False)
            value = value[: postcode.end()]
        parts = [value]
        draft.fill("address", nf.address(value))
        return (draft, parts)
    elif fld == "phone":
        phones = nf.find_phones(value)
        if phones:
            draft.fill("phone", phones[0])
        elif len(re.sub(r"\D", "", value)) >= 6:
            draft.fill("phone", nf.phone(value))
    elif fld == "contact_name" and _NAME_PART.search(label):
        _contact_part(draft, label, value)
    elif fld in ("contact_name", "contact_email") and _AS_ABOVE.search(value):
        _copy_contact(ex, draft)
    elif fld == "contact_name" and (_ME.match(value) or says_i_am_contact(value)):
        sender_as_contact(ex, draft, value)  # "Main contact: myself" / "I will be"
    elif fld == "contact_name":
        _contact(draft, value)
    elif fld == "contact_email":
        if emails:
            draft.fill("contact_email", emails[0])
    elif fld in ("current_email", "new_email"):
        if emails:
            draft.fill(fld, emails[0])
    elif fld == "email" and emails:
        if ex.kind is RequestKind.EMAIL_CHANGE:
            ex.loose_emails.append(emails[0])
        elif not _ORG_MAILBOX_LABEL.search(label):
            draft.fill("contact_email", emails[0])
    return None


# Labels for the later parts of an address already begun
_ADDRESS_PART = re.compile(
    r"(?i)\W*(?:post[ -]?code|(?:address\s+)?line\s*[2-6]|address\s*[2-6]|town(?:/city)?|city|"
    r"county|locality)\W*"
)


# A value under an address label that is a sentence, not an address: no postcode and the
# words of a remark (a pronoun, "waiting", "confirm", "not yet"...). Lines of a real address
# ("The Old Mill", "12 Mill Lane") hold none of them.
_NOT_AN_ADDRESS = re.compile(
    r"(?i)\b(?:we|we're|we\u2019re|we've|i|i'm|i\u2019m|our|us|they|still|waiting|wait|"
    r"confirm(?:ed)?|not yet|yet to|once|soon|will|when|unknown|tbc|tba|don't|do not|"
    r"haven't|have not|hasn't|has not|until)\b"
)


# "Practice email: x@nhs.net" in a set-up request is the practice's mailbox, not a contact's
_ORG_MAILBOX_LABEL = re.compile(
    r"\b(practice|surgery|pharmacy|organi[sz]ation|generic|shared|branch|nhs\.?net)\b", re.I
)


def _is_nothing(value: str) -> bool:
    return bool(
        re.match(
            r"^\s*(n/?a|none|tbc|tba|not (yet )?(known|allocated|available|issued|assigned)|"
            r"unknown|awaiting\b.*|pending\b.*|to follow|-+|\?+)\s*\.?\s*$",
            value,
            re.I,
        )
    )


_ALREADY_CONTACT_AT = re.compile(
    r"(?i)\b(?:already|also|currently|existing)\b.{0,30}\bmain contact\b.{0,20}\b(?:at|for|of)\b"
    r"|\bmain contact\b.{0,20}\b(?:at|for|of)\b.{0,20}\b(?:existing|other|current)\b"
)
_ME = re.compile(r"(?i)^\W*(?:me|myself|I|I will|I'll|I will be|I'll be)\W*(?:\(|$)")
_AS_ABOVE = re.compile(r"^\W*(?:the\s+)?same(?:\s+as)?\b|^\W*as\s+above\b", re.I)


def _copy_contact(ex: Extraction, draft: Draft) -> None:
    """'Branch main contact: same as above' names the contact already given."""
    for other in ex.drafts.values():
        if other is not draft and (other.contact_name or other.contact_email):
            draft.fill("contact_name", other.contact_name)
            draft.fill("contact_email", other.contact_email)
            return


_NAME_PART = re.compile(
    r"\b(title|first name|forename|given name|surname|last name|family name)\b", re.I
)


def _contact_part(draft: Draft, label: str, value: str) -> None:
    """A contact's name given in parts: 'Main contact title: Mrs', '... first name: Anita'."""
    part = _NAME_PART.search(label)
    assert part is not None
    order = (
        0
        if part.group(1).lower() == "title"
        else (
            1
            if "first" in label.lower() or "forename" in label.lower() or "given" in label.lower()
            else 2
        )
    )
    pieces = dict(draft.name_parts)
    pieces[order] = nf.collapse(value).strip(" ,.")
    draft.name_parts = tuple(sorted(pieces.items()))
    name = " ".join(v for _, v in draft.name_parts if v)
    if len(draft.name_parts) >= 2 or not draft.contact_name:
        draft.fill("contact_name", name, force=True)


def _contact(draft: Draft, value: str) -> None:
    emails = nf.find_emails(value)
    if emails:
        draft.fill("contact_email", emails[0])
    rest = nf.EMAIL.sub(" ", value)
    rest = re.sub(r"\([^)]*\)", " ", rest)
    rest = re.split(r"[,;|]|\s[-\u2013]\s", rest)[0]
    name = nf.person_name(rest)
    if name and not _is_nothing(name) and re.search(r"[A-Za-z]", name):
        draft.fill("contact_name", name)


def _composite(ex: Extraction, draft: Draft, value: str, *, allow_name: bool) -> None:
    """'Hillside Green Surgery (GP), N81 790' or 'Kingsholm Surgery, L84 502, 3 Kingsholm
    Road, Bristol, BS2 9QT, 0117 496 0815': split one value into the party's fields."""
    rest = value
    for email in nf.find_emails(rest):
        if ex.kind is not RequestKind.EMAIL_CHANGE:
            draft.fill("contact_email", email)
    rest = nf.EMAIL.sub(" ", rest)
    person = PERSON.search(rest)
    first_chunk = re.split(r",|\s[-\u2013|]\s", rest.strip())[0]
    if person and allow_name and is_org_named_after_people(first_chunk):
        person = None  # "Dr Khan's Surgery" is the practice's name, not a contact
    if person:
        draft.fill("contact_name", nf.person_name(person.group(0)))
        rest = rest[: person.start()] + " " + rest[person.end() :]
    for m in reversed(list(nf.PHONE.finditer(rest))):
        draft.fill("phone", nf.phone(m.group(0)))
        rest = rest[: m.start()] + " " + rest[m.end() :]
    codes = [(m, nf.ods_code(m.group(1))) for m in nf.ODS_TOKEN.finditer(rest)]
    for m, code in codes:
        if not OLD_CODE.search(rest[: m.start()]):
            draft.fill("ods_code", code)
            break
    for m, _ in reversed(codes):
        rest = rest[: m.start()] + " " + rest[m.end() :]
    for m in re.finditer(r"\(([^)]*)\)", rest):
        kind = nf.org_type(m.group(1))
        if kind:
            draft.fill("org_type", kind)
    rest = re.sub(r"\([^)]*\)", " ", rest)
    rest = re.sub(r"\b(tel|telephone|phone|t|ods|code|ods code)\b\.?:?", " ", rest, flags=re.I)
    chunks = [c.strip(" .;:-\u2013") for c in re.split(r",|\s[-\u2013|]\s|\|", rest)]
    chunks = [c for c in chunks if c]
    post = next((i for i, c in enumerate(chunks) if nf.POSTCODE.search(c)), None)
    name_chunks = chunks
    if post is not None:
        start = next(
            (
                i
                for i, c in enumerate(chunks[: post + 1])
                if re.match(r"^(\d|flat|unit|suite|the old|floor)", c, re.I)
            ),
            None,
        )
        if start is None:
            # "... and it is at 5 West Way": the address starts at a house number inside a chunk
            for i, chunk in enumerate(chunks[: post + 1]):
                inner = re.search(r"(?<![\w\u00a3])\d{1,4}[A-Za-z]?\s+[A-Z][a-z]", chunk)
                if inner:
                    chunks[i] = chunk[inner.start() :]
                    start = i
                    break
        if start is None:
            start = 1 if post >= 1 else 0
        draft.fill("address", nf.address(", ".join(chunks[start : post + 1])))
        name_chunks = chunks[:start]
    for chunk in name_chunks:
        kind = nf.org_type(chunk) if len(chunk.split()) <= 3 else None
        if kind and chunk.lower() in nf.ORG_TYPES:
            draft.fill("org_type", kind)
            continue
        if allow_name and re.search(r"[A-Za-z]", chunk):
            draft.fill("name", nf.collapse(chunk))
            allow_name = False


def _unlabelled(ex: Extraction, role: str, line: str) -> None:
    """A line in a party's section without a label ('6 Hillside Green, Liverpool, L25 5NR')."""
    draft = ex.draft(role)
    if PERSON.match(line.strip()):
        _contact(draft, line)
        return
    first = re.split(r",|\s[-\u2013]\s|\(", line)[0].strip()
    allow_name = bool(
        not first[:1].isdigit()
        and first[:1].isupper()
        and (ORG_WORDS.search(first) or nf.find_ods(line))
        and len(first.split()) <= 7
    )
    _composite(ex, draft, line, allow_name=allow_name)
