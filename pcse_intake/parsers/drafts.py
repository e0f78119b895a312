"""Parties being filled in while a message is read, the roles each kind uses, and the
patterns for people and organisations that the label and prose readers share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pcse_intake.parsers.labels import BRANCH, EXISTING, MAIN, NEW
from pcse_intake.parsers.model import Contact, Party, RequestKind

# generic role -> the kind's role
ROLE_MAP: dict[RequestKind, dict[str, str]] = {
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

TITLE = r"(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Professor|Rev|Sir|Dame)\.?"
# Words that open a new sentence or line, never a surname ("Main contact: Dr Owen Price
# The practice opens ..."), and code-like tokens ("C84"), end a name.
_NOT_A_NAME_WORD = (
    r"(?!(?:The|This|That|These|We|Our|Please|It|He|She|They|I|Thanks|Thank|Kind|Many|"
    r"Regards|Best|Mobile|Tel|Telephone|Phone|Email|E-mail|Address|Main|Practice|ODS|"
    r"Code|Who|Which|As|And|Or|From|To|On|At|In|Is|Will|Can)\b)(?![A-Z]{1,2}\d)"
)
PERSON = re.compile(
    rf"\b{TITLE}\s{{1,3}}[A-Z][\w'\u2019-]{{0,40}}"
    rf"(?:[ \t]{{1,3}}(?:{_NOT_A_NAME_WORD}[A-Z][\w'\u2019-]{{0,40}}|de|van|von|der|den|"
    rf"du|da|di|del|le|la|bin|al)){{0,3}}"
)
NAME_WORD = r"[A-Z][\w'\u2019&.-]{0,40}"
ORG_NAME = re.compile(
    rf"(?![A-Z]{{1,2}}\d){NAME_WORD}(?:\s{{1,3}}(?:(?:upon|on|under|in|the|and|of|de|la|&)\s{{1,3}}){{0,3}}"
    rf"(?![A-Z]{{1,2}}\d){NAME_WORD}){{0,7}}"  # a code ('D82044', 'C84') ends the name
)
ORG_WORDS = re.compile(
    r"\b(surgery|practice|pharmacy|chemists?|dental|dentists?|opticians?|optometrists?|"
    r"eyecare|medical|health|centre|center|clinic|group|partnership|healthcare|"
    r"family doctors|lodge|house)\b",
    re.IGNORECASE,
)
# Capitalised words that start a match but are not part of an organisation's name: always
# dropped ("We're Greenlane Surgery"), and SENTENCE_START_NOISE only when the sentence opens
# with them ("The Old Forge Surgery" keeps its article mid-sentence).
_NOISE_WORDS = (
    "we we're we\u2019re we've we\u2019ve i'm i\u2019m our this please hi hello dear on for and "
    "it its as at to from with in practice name pcse thanks re fw fwd subject is a an "
    "it's that's here's there's we'd we'll i'd i'll i've"
)
LEADING_NOISE = frozenset(_NOISE_WORDS.split(" "))
SENTENCE_START_NOISE = frozenset(("the", "main", "new", "existing", "branch", "current", "old"))
CODE_PHRASE = re.compile(
    r"\b(?i:ods|practice|org(?:ani[sz]ation)?|pharmacy|branch|surgery)\s+(?i:code)\s*"
    r"(?i:is|:|-|=)?\s*([A-Za-z][A-Z0-9]{0,5}(?: ?\d[A-Z0-9]{0,3}){0,2})\b"
)
OLD_CODE = re.compile(r"\b(old|previous|former|was|closed|retired)\b[^.\n]{0,25}$", re.I)
ADDRESS_CUE = re.compile(
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
    signer_plain: str | None = None  # an untitled name the sign-off gives ('Nikhil Patel')
    sender_signed: bool = True  # the sign-off is the sender's own (not 'jane.doe@' / 'Ahmed')
    self_named: str | None = None  # "My name is Mr Bilal Nazir", "I am Dr Sarah Jones, ..."

    def draft(self, role: str) -> Draft:
        return self.drafts.setdefault(role, Draft())

    def role(self, generic: str | None, fallback: str) -> str:
        if generic is None:
            return fallback
        return ROLE_MAP[self.kind].get(generic, fallback)


def is_org_named_after_people(text: str) -> bool:
    text = text.strip()
    return bool(
        re.match(r"(?i)^(drs|doctors)\b", text)
        or (PERSON.match(text) and (ORG_WORDS.search(text) or re.search(r"\b\w+'s\b", text)))
        or re.search(r"(?i)\b(partners|partnership)\b", text)
    )
