"""Field extraction: labelled lines, table rows (already `label: value`), sections per party,
and prose ("we are Greenlane Surgery (A12345) and want our e-mail changed from ... to ...")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pcse_intake.parsers import normalise as nf
from pcse_intake.parsers.labels import BRANCH, EXISTING, MAIN, NEW, field_of, role_of
from pcse_intake.parsers.model import Contact, Party, RequestKind

# generic role -> the kind's role
_ROLE_MAP: dict[RequestKind, dict[str, str]] = {
    RequestKind.EMAIL_CHANGE: dict.fromkeys((MAIN, BRANCH, EXISTING, NEW), "practice"),
    RequestKind.MAIN_CONTACT_EXTENSION: {
        MAIN: "existing_practice",
        EXISTING: "existing_practice",
        NEW: "new_practice",
        BRANCH: "new_practice",
    },
    RequestKind.BRANCH_SETUP: {
        MAIN: "main_practice",
        EXISTING: "main_practice",
        NEW: "branch",
        BRANCH: "branch",
    },
    RequestKind.NEW_PRACTICE_SETUP: {
        MAIN: "new_practice",
        EXISTING: "existing_practice",
        NEW: "new_practice",
        BRANCH: "new_practice",
    },
}
PRIMARY: dict[RequestKind, str] = {
    RequestKind.EMAIL_CHANGE: "practice",
    RequestKind.MAIN_CONTACT_EXTENSION: "existing_practice",
    RequestKind.BRANCH_SETUP: "main_practice",
    RequestKind.NEW_PRACTICE_SETUP: "new_practice",
}

_SEPARATOR = re.compile(r"[ \t]{0,8}(?::|\s[-\u2013\u2014=]\s|\t{1,8}|[ \t]{3,8})[ \t]{0,8}")
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u00b7\u25aa\u25cf\u2013>o]\s+|\d{1,2}[.)]\s+)")
_TITLE = r"(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Professor|Rev|Sir|Dame)\.?"
_PERSON = re.compile(
    rf"\b{_TITLE}\s{{1,3}}[A-Z][\w'\u2019-]{{0,40}}"
    rf"(?:\s{{1,3}}(?:[A-Z][\w'\u2019-]{{0,40}}|de|van|von|du|da|le|la|bin|al)){{0,3}}"
)
_NAME_WORD = r"[A-Z][\w'\u2019&.-]{0,40}"
_ORG_NAME = re.compile(
    rf"{_NAME_WORD}(?:\s{{1,3}}(?:(?:upon|on|under|in|the|and|of|de|la|&)\s{{1,3}}){{0,3}}"
    rf"{_NAME_WORD}){{0,7}}"
)
_ORG_WORDS = re.compile(
    r"\b(surgery|practice|pharmacy|chemists?|dental|dentists?|opticians?|optometrists?|"
    r"eyecare|medical|health|centre|center|clinic|group|partnership|healthcare|"
    r"family doctors|lodge|house)\b",
    re.IGNORECASE,
)
_LEADING_NOISE = {
    "we",
    "we're",
    "we\u2019re",
    "i'm",
    "i\u2019m",
    "our",
    "the",
    "this",
    "please",
    "hi",
    "hello",
    "dear",
    "on",
    "for",
    "and",
    "it",
    "its",
    "main",
    "new",
    "existing",
    "branch",
    "we've",
    "we\u2019ve",
    "as",
    "at",
    "to",
    "from",
    "with",
    "in",
    "practice",
    "name",
    "pcse",
    "thanks",
    "re",
    "fw",
    "fwd",
    "subject",
    "current",
    "old",
    "is",
    "a",
    "an",
}
_CODE_PHRASE = re.compile(
    r"\b(?i:ods|practice|org(?:ani[sz]ation)?|pharmacy|branch|surgery)\s+(?i:code)\s*"
    r"(?i:is|:|-|=)?\s*([A-Za-z][A-Z0-9]{0,5}(?: ?\d[A-Z0-9]{0,3}){0,2})\b"
)
_OLD_CODE = re.compile(r"\b(old|previous|former|was|closed|retired)\b[^.\n]{0,25}$", re.I)
_ADDRESS_CUE = re.compile(
    r"\b(?:at|address is|based at|located at|situated at|premises at|address:?)\s+", re.I
)


@dataclass
class Draft:
    """A party being filled in; first value wins unless a later one is more certain."""

    name: str | None = None
    ods_code: str | None = None
    org_type: str | None = None
    address: str | None = None
    phone: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    current_email: str | None = None
    new_email: str | None = None
    touched: bool = False
    name_parts: tuple[tuple[int, str], ...] = ()  # (0 title | 1 first | 2 last, text)

    def fill(self, name: str, value: str | None, *, force: bool = False) -> None:
        if not value:
            return
        if force or not getattr(self, name):
            setattr(self, name, value)
            self.touched = True

    def party(self) -> Party:
        contact = None
        if self.contact_name or self.contact_email:
            contact = Contact(self.contact_name, self.contact_email)
        return Party(
            name=self.name,
            ods_code=self.ods_code,
            org_type=self.org_type,
            address=self.address,
            phone=self.phone,
            main_contact=contact,
            current_email=self.current_email,
            new_email=self.new_email,
        )


@dataclass
class Extraction:
    kind: RequestKind
    sender: str | None = None
    drafts: dict[str, Draft] = field(default_factory=dict)
    loose_emails: list[str] = field(default_factory=list)
    signer: str | None = None  # the sender's name with title, as the signature writes it

    def draft(self, role: str) -> Draft:
        return self.drafts.setdefault(role, Draft())

    def role(self, generic: str | None, fallback: str) -> str:
        if generic is None:
            return fallback
        return _ROLE_MAP[self.kind].get(generic, fallback)


def extract(
    kind: RequestKind, text: str, subject: str, sender: str | None, signature: str = ""
) -> dict[str, Party]:
    """The parties the text describes, keyed by the kind's roles (see model.ROLES).

    `signature` only tells who "I" is ("I am the main contact"); its phones and addresses
    are the sender's, never the request's.
    """
    if kind is RequestKind.UNKNOWN:
        return {}
    ex = Extraction(kind, sender, signer=_signer(signature))
    prose = _labelled_pass(ex, text)
    _prose_pass(ex, prose)
    _subject_pass(ex, subject)
    if kind is not RequestKind.NEW_PRACTICE_SETUP:
        _we_from_signature(ex, signature)
    if kind is RequestKind.EMAIL_CHANGE:
        _settle_email_change(ex, prose)
    if kind is RequestKind.BRANCH_SETUP:
        _settle_branch_codes(ex)
    if kind is RequestKind.NEW_PRACTICE_SETUP:
        _type_from_request_words(ex.draft("new_practice"), f"{subject}\n{text}")
    roles = {
        RequestKind.EMAIL_CHANGE: ("practice",),
        RequestKind.MAIN_CONTACT_EXTENSION: ("existing_practice", "new_practice"),
        RequestKind.BRANCH_SETUP: ("main_practice", "branch"),
        RequestKind.NEW_PRACTICE_SETUP: ("new_practice", "existing_practice"),
    }[kind]
    out: dict[str, Party] = {}
    for role in roles:
        draft = ex.drafts.get(role)
        if draft is None or not draft.touched:
            if role == "existing_practice" and kind is RequestKind.NEW_PRACTICE_SETUP:
                continue
            draft = Draft()
        out[role] = _restrict(kind, role, draft.party())
    return out


_ALLOWED: dict[tuple[RequestKind, str], tuple[str, ...]] = {
    (RequestKind.EMAIL_CHANGE, "practice"): ("name", "ods_code", "current_email", "new_email"),
    (RequestKind.MAIN_CONTACT_EXTENSION, "existing_practice"): (
        "name",
        "ods_code",
        "main_contact",
        "address",
        "phone",
    ),
    (RequestKind.MAIN_CONTACT_EXTENSION, "new_practice"): ("ods_code", "name", "address"),
    (RequestKind.BRANCH_SETUP, "main_practice"): (
        "name",
        "org_type",
        "ods_code",
        "main_contact",
        "address",
        "phone",
    ),
    (RequestKind.BRANCH_SETUP, "branch"): ("main_contact", "ods_code", "name", "address", "phone"),
    (RequestKind.NEW_PRACTICE_SETUP, "new_practice"): (
        "name",
        "address",
        "ods_code",
        "org_type",
        "phone",
        "main_contact",
    ),
    (RequestKind.NEW_PRACTICE_SETUP, "existing_practice"): (
        "name",
        "ods_code",
        "org_type",
        "main_contact",
        "address",
        "phone",
    ),
}


def _restrict(kind: RequestKind, role: str, party: Party) -> Party:
    """Only the fields the contract lists for the role (gold convention)."""
    allowed = _ALLOWED[(kind, role)]
    return Party(
        **{
            k: getattr(party, k) if k in allowed else None
            for k in (
                "name",
                "ods_code",
                "org_type",
                "address",
                "phone",
                "main_contact",
                "current_email",
                "new_email",
            )
        }
    )


# ----------------------------------------------------------------------------- labels


def _split_label(line: str) -> tuple[str, str] | None:
    m = _SEPARATOR.search(line)
    if m is None or m.start() == 0:
        return None
    label, value = line[: m.start()], line[m.end() :]
    if len(label) > 90 or len(label.split()) > 16 or "@" in label:
        return None
    return label, value.strip()


def _labelled_pass(ex: Extraction, text: str) -> list[str]:
    """Read `label: value` lines and section headings; return the lines left for prose."""
    lines = [_BULLET.sub("", ln).strip() for ln in text.split("\n")]
    primary = PRIMARY[ex.kind]
    context = primary
    prose: list[str] = []
    pending: tuple[str, str] | None = None  # (field, role) of a label whose value follows
    open_address: tuple[Draft, list[str]] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            pending = None
            open_address = None
            prose.append("")
            continue
        split = _split_label(line)
        fld = field_of(split[0]) if split else None
        if split and fld and split[1]:
            label, value = split
            generic = role_of(label)
            role = ex.role(generic, context)
            if generic is not None and fld == "name":
                context = role  # "Main practice: X", "Branch: Y" open a section
            elif generic is not None and _is_heading_role(label):
                context = role
            open_address = _apply(ex, role, fld, label, value)
            pending = None
            continue
        if split and fld and not split[1] and len(split[0].split()) <= 8:
            # "Address:" with the value on the next line(s), or a heading "Existing practice:"
            generic = role_of(split[0])
            if generic is not None:
                context = ex.role(generic, context)
            heading = fld == "name" or re.search(r"\balready\b|^details\b", split[0], re.I)
            pending = None if generic is not None and heading else (fld, ex.role(generic, context))
            open_address = None
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
            pending = None
            continue
        fld_alone = field_of(bare) if len(bare.split()) <= 5 and not split else None
        if fld_alone and not nf.find_emails(bare) and not any(ch.isdigit() for ch in bare):
            pending = (fld_alone, ex.role(role_of(bare), context))
            continue
        if pending is not None:
            fld_p, role_p = pending
            open_address = _apply(ex, role_p, fld_p, fld_p, line)
            pending = None
            continue
        if open_address is not None:
            draft, parts = open_address
            if not _has_postcode_end(parts) and len(parts) < 6 and not nf.find_emails(line):
                parts.append(line)
                draft.fill("address", nf.address(", ".join(parts)), force=True)
                continue
            open_address = None
        if context != primary or _looks_like_record(line):
            _unlabelled(ex, context, line)
            prose.append(line if not _looks_like_record(line) else "")
            continue
        prose.append(line)
    return prose


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
    elif fld == "address" and re.fullmatch(r"(?i)\W*post\s?code\W*", label) and draft.address:
        # "Address: 1 High St, Leeds" then "Postcode: LS1 1AA"
        draft.fill("address", nf.address(f"{draft.address}, {value}"), force=True)
    elif fld == "address":
        if nf.find_emails(value) and not nf.POSTCODE.search(value):
            return None
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
    person = _PERSON.search(rest)
    first_chunk = re.split(r",|\s[-\u2013|]\s", rest.strip())[0]
    if person and allow_name and _is_org_named_after_people(first_chunk):
        person = None  # "Dr Khan's Surgery" is the practice's name, not a contact
    if person:
        draft.fill("contact_name", nf.person_name(person.group(0)))
        rest = rest[: person.start()] + " " + rest[person.end() :]
    for m in reversed(list(nf.PHONE.finditer(rest))):
        draft.fill("phone", nf.phone(m.group(0)))
        rest = rest[: m.start()] + " " + rest[m.end() :]
    codes = [(m, nf.ods_code(m.group(1))) for m in nf.ODS_TOKEN.finditer(rest)]
    for m, code in codes:
        if not _OLD_CODE.search(rest[: m.start()]):
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


def _is_org_named_after_people(text: str) -> bool:
    text = text.strip()
    return bool(
        re.match(r"(?i)^(drs|doctors)\b", text)
        or (_PERSON.match(text) and (_ORG_WORDS.search(text) or re.search(r"\b\w+'s\b", text)))
        or re.search(r"(?i)\b(partners|partnership)\b", text)
    )


def _unlabelled(ex: Extraction, role: str, line: str) -> None:
    """A line in a party's section without a label ('6 Hillside Green, Liverpool, L25 5NR')."""
    draft = ex.draft(role)
    if _PERSON.match(line.strip()):
        _contact(draft, line)
        return
    first = re.split(r",|\s[-\u2013]\s|\(", line)[0].strip()
    allow_name = bool(
        not first[:1].isdigit()
        and first[:1].isupper()
        and (_ORG_WORDS.search(first) or nf.find_ods(line))
        and len(first.split()) <= 7
    )
    _composite(ex, draft, line, allow_name=allow_name)


# ----------------------------------------------------------------------------- prose


@dataclass
class _Mention:
    name: str
    start: int
    end: int
    code: str | None
    org_type: str | None


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        if not flat:
            continue
        pieces: list[str] = []
        for piece in re.split(r"(?<=[.!?])\s+(?=[A-Z])", flat):
            # "Dr. Jones", "St. Mary's": an abbreviation, not the end of a sentence
            if pieces and re.search(r"\b(Dr|Mr|Mrs|Ms|Mx|Prof|St|Rd|No|Ave)\.$", pieces[-1]):
                pieces[-1] += " " + piece
            else:
                pieces.append(piece)
        out.extend(pieces)
    return out


def _mentions(sentence: str) -> list[_Mention]:
    found: list[_Mention] = []
    for m in _ORG_NAME.finditer(sentence):
        words = m.group(0).split()
        start = m.start()
        while words and words[0].lower().strip(",") in _LEADING_NOISE:
            start = sentence.index(words[1], start + len(words[0])) if len(words) > 1 else m.end()
            words = words[1:]
        if not words:
            continue
        name = " ".join(words).rstrip(".,")
        after = sentence[m.end() : m.end() + 80]
        code: str | None = None
        kind: str | None = None
        paren = re.match(r"\s*\(([^)]{1,80})\)", after)
        comma_code = re.match(
            r"\s*,\s*(?:ODS\s*(?:code)?\s*)?([A-Z0-9][A-Z0-9 ]{3,12}?)(?=[,.;)\s]|$)", after, re.I
        )
        if paren:
            inner = paren.group(1)
            codes = [
                c for c in nf.ODS_TOKEN.finditer(inner) if not _OLD_CODE.search(inner[: c.start()])
            ]
            code = nf.ods_code(codes[0].group(1)) if codes else None
            kind = nf.org_type(inner)
            if not code and not kind and not _ORG_WORDS.search(name):
                continue
        elif comma_code and nf.find_ods(comma_code.group(1)):
            code = nf.find_ods(comma_code.group(1))[0]
        elif not _ORG_WORDS.search(name) or _PERSON.fullmatch(name):
            continue
        if (_PERSON.match(name) and not _is_org_named_after_people(name)) or name.lower() in (
            "pcse",
            "pcse online",
            "nhs",
        ):
            continue
        if re.search(r"\bPCSE\b|\bNHS England\b|\bICB\b", name):
            continue
        found.append(_Mention(name, start, m.end(), code, kind))
    return found


def _prose_pass(ex: Extraction, lines: list[str]) -> None:
    primary = PRIMARY[ex.kind]
    text = "\n".join(lines)
    for paragraph in re.split(r"\n\s*\n", text):
        carry: str | None = None  # the party the previous sentence was about ("It is at ...")
        for sentence in _sentences(paragraph):
            carry = _prose_sentence(ex, sentence, primary, carry)


def _sentence_role(ex: Extraction, before: str, primary: str) -> str:
    """The role a mention takes from the words before it in its sentence."""
    low = before.lower()[-80:]
    if ex.kind is RequestKind.MAIN_CONTACT_EXTENSION:
        if re.search(
            r"\b(to|opened|opening|new|cover|covering|additional|second|also|taken over|"
            r"acquired)\b[^,]{0,40}$",
            low,
        ):
            return "new_practice"
        return "existing_practice"
    if ex.kind is RequestKind.BRANCH_SETUP:
        if re.search(r"\bbranch (?:of|for|under)\s*(?:the\s+)?$", low):
            return "main_practice"  # "now a branch of Greenlane Surgery"
        if re.search(r"\b(branch|merged with|merger with|taken over|new site)\b[^.]{0,40}$", low):
            return "branch"
        return "main_practice"
    if ex.kind is RequestKind.NEW_PRACTICE_SETUP:
        if re.search(
            r"\b(already|currently|also|existing)\b[^.]{0,40}\b(main contact|at|for)\b[^.]{0,30}$",
            low,
        ):
            return "existing_practice"
        return "new_practice"
    return primary


_WE = re.compile(r"^\W*(we|we're|we\u2019re|we've|we\u2019ve|our|us|i|i'm|i\u2019m|my)\b", re.I)


def _prose_sentence(ex: Extraction, sentence: str, primary: str, carry: str | None) -> str | None:
    """Read one sentence; return the party it was about, for the next sentence."""
    mentions = _mentions(sentence)
    if _WE.match(sentence):
        carry = None  # "we"/"our" is the sender's own practice, the request's primary party
    roles: list[str] = []
    used: set[str] = set()
    for mention in mentions:
        role = _sentence_role(ex, sentence[: mention.start], primary)
        if ex.kind is RequestKind.MAIN_CONTACT_EXTENSION and role in used and len(mentions) == 2:
            role = "new_practice" if role == "existing_practice" else "existing_practice"
        used.add(role)
        roles.append(role)
        draft = ex.draft(role)
        draft.fill("name", mention.name)
        draft.fill("ods_code", mention.code)
        draft.fill("org_type", mention.org_type)

    # facts in the sentence go to the nearest mention before them, else the sentence's role
    def owner(pos: int) -> str:
        best = None
        for mention, role in zip(mentions, roles, strict=True):
            if mention.start <= pos:
                best = role
        if best is not None:
            return best
        if mentions:
            return roles[0]
        role = _sentence_role(ex, sentence[:pos], primary)
        return carry if carry and role == primary else role

    taken: list[tuple[int, int]] = [(m.start, m.end) for m in mentions]
    for m in nf.ODS_TOKEN.finditer(sentence):
        if any(a <= m.start() < b for a, b in taken):
            continue
        if _OLD_CODE.search(sentence[: m.start()]):
            continue
        code = nf.ods_code(m.group(1))
        role = owner(m.start())
        if ex.kind is RequestKind.BRANCH_SETUP and len(code) == 9:
            role = "branch"
        ex.draft(role).fill("ods_code", code)
    for m in _CODE_PHRASE.finditer(sentence):
        token = re.sub(r"\s", "", m.group(1)).upper()
        if any(c.isdigit() for c in token) and not _OLD_CODE.search(sentence[: m.start()]):
            # "our code is A1234": kept as written, validation flags it
            ex.draft(owner(m.start(1))).fill("ods_code", token)
    for where, found in _addresses(sentence):
        ex.draft(owner(where)).fill("address", nf.address(found))
    for m in nf.PHONE.finditer(sentence):
        ex.draft(owner(m.start())).fill("phone", nf.phone(m.group(0)))
    for m in _PERSON.finditer(sentence):
        if ex.kind is RequestKind.EMAIL_CHANGE:
            break
        after = sentence[m.end() : m.end() + 60]
        email = re.match(r"\s*[(,]?\s*(?:email:?\s*)?<?(" + nf.EMAIL.pattern + r")", after)
        role = _contact_role(ex, sentence, m.start(), primary)
        if not mentions and carry and role == primary:
            role = carry
        draft = ex.draft(role)
        draft.fill("contact_name", nf.person_name(m.group(0)))
        if email:
            draft.fill("contact_email", email.group(1).lower())
    if ex.kind is not RequestKind.EMAIL_CHANGE:
        _self_as_contact(ex, sentence, primary)
        for kind_word in re.finditer(
            r"\b(?:a|an|we are a|are a)\s+(new\s+)?"
            r"(GP|dental|optical|ophthalmic|pharmacy|community pharmacy)\b",
            sentence,
            re.I,
        ):
            ex.draft(owner(kind_word.start()) if mentions else primary).fill(
                "org_type", nf.org_type(kind_word.group(2))
            )
    return roles[-1] if roles else carry


_MY_EMAIL = re.compile(
    r"\b(?:my|our|contact|their)\s+e-?mail(?:\s+address)?\s*(?:is|:|-)\s*<?("
    + nf.EMAIL.pattern
    + ")",
    re.I,
)
_I_AM_CONTACT = re.compile(
    r"\b(?:I am|I'm|I\u2019m)\s+(?:the\s+|their\s+|its\s+|(?:currently|already)\s+the\s+)?"
    r"(?:existing\s+|current\s+)?main contact\b|\bmain contact (?:will be|is) (?:me|myself)\b",
    re.I,
)


def _self_as_contact(ex: Extraction, sentence: str, primary: str) -> None:
    """'my email is X'; 'I am the main contact' points at the sender's own address."""
    role = _contact_role(ex, sentence, len(sentence), primary)
    draft = ex.draft(role)
    mine = _MY_EMAIL.search(sentence)
    if mine:
        draft.fill("contact_email", mine.group(1).lower())
    me = _I_AM_CONTACT.search(sentence)
    if me:
        if ex.kind is RequestKind.NEW_PRACTICE_SETUP and re.search(
            r"(?i)\b(currently|already)\b", me.group(0)
        ):
            draft = ex.draft("existing_practice")  # "I am already the main contact for X"
        draft.fill("contact_email", ex.sender)
        draft.fill("contact_name", ex.signer or _sender_as_written(ex, sentence))


def _sender_as_written(ex: Extraction, sentence: str) -> str | None:
    """The titled name the sentence gives beside the sender's own address, if any."""
    for person in _PERSON.finditer(sentence):
        after = sentence[person.end() : person.end() + 60].lower()
        if ex.sender and re.match(r"\W{0,4}" + re.escape(ex.sender), after):
            return nf.person_name(person.group(0))
    return None


def _we_from_signature(ex: Extraction, signature: str) -> None:
    """Who "we" are when only the sign-off names the practice ('Practice Manager /
    Greenlane Surgery'): the primary party's name, never its phone or address."""
    draft = ex.draft(PRIMARY[ex.kind])
    if draft.name or not draft.touched:
        return
    for line in signature.split("\n")[1:6]:
        first = re.split(r",|\||\s[-\u2013]\s", line)[0].strip()
        if (
            _ORG_WORDS.search(first)
            and first[:1].isupper()
            and not any(ch.isdigit() for ch in first)
            and len(first.split()) <= 6
            and not re.search(
                r"(?i)\b(manager|administrator|lead|partner|director|officer|"
                r"receptionist|coordinator|assistant|nurse|pharmacist|gp)\b",
                first,
            )
            and not re.search(r"\b(NHS|ICB|CCG|PCSE)\b", first)
        ):
            draft.fill("name", nf.collapse(first))
            return


def _signer(signature: str) -> str | None:
    """A titled name in the sign-off ('Mrs Jane Doe', 'Dr Sam Hill MRCGP')."""
    for line in signature.split("\n")[:4]:
        person = _PERSON.match(line.strip())
        if person:
            return nf.person_name(person.group(0))
    return None


def _contact_role(ex: Extraction, sentence: str, pos: int, primary: str) -> str:
    before = sentence[:pos].lower()
    if ex.kind is RequestKind.BRANCH_SETUP and "branch" in before[-60:]:
        return "branch"
    if ex.kind is RequestKind.NEW_PRACTICE_SETUP and re.search(r"already", before[-60:]):
        return "existing_practice"
    return primary


def _addresses(sentence: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for pc in nf.POSTCODE.finditer(sentence):
        head = sentence[: pc.start()]
        cue = None
        for m in _ADDRESS_CUE.finditer(head):
            cue = m
        num = None
        for m in re.finditer(r"(?<![\w£])(\d+[A-Za-z]?(?:-\d+)?),?\s+[A-Z]", head):
            num = m
        if cue is not None and (
            num is None or num.start() < cue.end() or num.start() - cue.end() < 40
        ):
            start = cue.end()
        elif num is not None:
            start = num.start()
        else:
            continue
        text = sentence[start : pc.end()]
        if len(text) > 160 or "@" in text:
            continue
        out.append((start, text))
    return out


# ----------------------------------------------------------------------------- subject


def _subject_pass(ex: Extraction, subject: str) -> None:
    """A subject may carry the practice: 'Update practice email address - Greenlane Surgery
    A12345'."""
    primary = PRIMARY[ex.kind]
    subject = re.sub(r"^\s*((re|fw|fwd|aw)\s*:\s*)+", "", subject, flags=re.I)
    subject = re.sub(r"\bPCSE-\d+\b", " ", subject)
    draft = ex.draft(primary)
    for mention in _mentions(subject.replace(" - ", ", ").replace(" \u2013 ", ", ")):
        draft.fill("name", mention.name)
        draft.fill("ods_code", mention.code)
        break
    codes = nf.find_ods(subject)
    if codes:
        draft.fill("ods_code", codes[0])


# ----------------------------------------------------------------------------- settling


# Cue words before an address in prose; longer phrases first so "stop using" is one cue.
_EMAIL_CUE = re.compile(
    r"\b(?P<current>stop using|no longer (?:use|using)|currently (?:use|using)|(?:is|was) currently"
    r"|from|current(?:ly)?|old|existing|replace|was|previous(?:ly)?|at the moment|presently)\b"
    r"|\b(?P<new>switch(?:ing)? (?:over )?to|change(?:d)? (?:it )?to|sent to|replace(?:d)? with|"
    r"instead|to|new|use|using|now|going forward|will be)\b",
    re.I,
)


def _settle_email_change(ex: Extraction, prose: list[str]) -> None:
    """Assign the practice addresses that prose gives: 'from X to Y', 'stop using X and use
    Y', 'update ... to Y', 'we currently use X but would like everything sent to Y'."""
    draft = ex.draft("practice")
    text = " ".join(" ".join(prose).split())
    found: list[tuple[str, str | None]] = []
    for m in nf.EMAIL.finditer(text):
        address = m.group(0).lower()
        before = text[max(0, m.start() - 70) : m.start()]
        before = re.split(r"@\S+", before)[-1]  # only the words since the previous address
        cues = list(_EMAIL_CUE.finditer(before))
        which: str | None = None
        if cues:
            which = "current_email" if cues[-1].group("current") else "new_email"
        found.append((address, which))
    for address in ex.loose_emails:
        found.append((address, None))
    known = {draft.current_email, draft.new_email}
    found = [(a, w) for a, w in found if a not in known]
    for address, which in found:
        if which and not getattr(draft, which):
            draft.fill(which, address)
            known.add(address)
    rest = [a for a, w in found if a not in known]
    for address in rest:
        if not draft.current_email and draft.new_email:
            draft.fill("current_email", address)
        elif not draft.new_email and draft.current_email:
            draft.fill("new_email", address)
        elif not draft.current_email:
            draft.fill("current_email", address)
        known.add(address)
    if (
        re.search(
            r"\b(address|e-?mail|account)\s+(?:that\s+)?(?:i'?m|i am|we'?re|we are)\s+"
            r"(?:writing|emailing|sending|e-?mailing)\s+from\b|\bthis (?:e-?mail )?address\b",
            text,
            re.I,
        )
        and ex.sender
    ):
        if not draft.current_email and draft.new_email != ex.sender:
            draft.fill("current_email", ex.sender)
        elif not draft.new_email and draft.current_email != ex.sender:
            draft.fill("new_email", ex.sender)


_NEW_OF_TYPE = re.compile(
    r"\bnew\s+(?:community\s+)?(pharmacy|dental practice|dentist|dental surgery|gp practice|"
    r"gp surgery|general practice|opticians?|optical practice|optometrist)\b",
    re.I,
)


def _type_from_request_words(draft: Draft, text: str) -> None:
    """'access for a new pharmacy' states the organisation type as plainly as a label."""
    found = _NEW_OF_TYPE.search(text)
    if found and not draft.org_type:
        draft.fill("org_type", nf.org_type(found.group(1)))


def _settle_branch_codes(ex: Extraction) -> None:
    """A branch code given in the main practice's place (or the reverse) is moved by shape."""
    main = ex.draft("main_practice")
    branch = ex.draft("branch")
    if main.ods_code and len(main.ods_code) == 9 and not branch.ods_code:
        branch.ods_code, main.ods_code = main.ods_code, None
        branch.touched = True
