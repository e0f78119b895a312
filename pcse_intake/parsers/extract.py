"""Field extraction: reads labelled lines, then prose, then the subject and the sign-off,
and settles what is left (which address is current and which new), into each kind's roles."""

from __future__ import annotations

import re

from pcse_intake.parsers import normalise as nf
from pcse_intake.parsers.drafts import PRIMARY, Draft, Extraction
from pcse_intake.parsers.labelled import labelled_pass
from pcse_intake.parsers.model import Party, RequestKind
from pcse_intake.parsers.prose import (
    find_mentions,
    prose_pass,
    self_introduced,
    signed_by_sender,
    signer,
    we_from_signature,
)


def extract(
    kind: RequestKind, text: str, subject: str, sender: str | None, signature: str = ""
) -> dict[str, Party]:
    """The parties the text describes, keyed by the kind's roles (see model.ROLES).

    `signature` only tells who "I" is ("I am the main contact"); its phones and addresses
    are the sender's, never the request's.
    """
    if kind is RequestKind.UNKNOWN:
        return {}
    ex = Extraction(
        kind,
        sender,
        signer=signer(signature),
        signer_plain=signer(signature, titled=False),
        sender_signed=signed_by_sender(signature, sender),
        self_named=self_introduced(text),
    )
    prose = labelled_pass(ex, text)
    prose_pass(ex, prose)
    _subject_pass(ex, subject)
    if kind is not RequestKind.NEW_PRACTICE_SETUP:
        we_from_signature(ex, signature)
    if kind is not RequestKind.EMAIL_CHANGE:
        _signer_address(ex)
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


# ----------------------------------------------------------------------------- subject


def _subject_pass(ex: Extraction, subject: str) -> None:
    """A subject may carry the practice: 'Update practice email address - Greenlane Surgery
    A12345'."""
    primary = PRIMARY[ex.kind]
    subject = re.sub(r"^\s*((re|fw|fwd|aw)\s*:\s*)+", "", subject, flags=re.I)
    subject = re.sub(r"\bPCSE-\d+\b", " ", subject)
    draft = ex.draft(primary)
    for mention in find_mentions(subject.replace(" - ", ", ").replace(" \u2013 ", ", ")):
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


_SENDER_POINTER = re.compile(
    r"\b(?:address|e-?mail|account|one|mailbox)\s+(?:that\s+|which\s+)?"
    r"(?:i'?m|i am|we'?re|we are|i have been|we have been)\s+"
    r"(?:writing|emailing|sending|e-?mailing|using)\s+(?:from|now)\b|"
    r"\bthis (?:e-?mail |mailbox )?(?:address|account|mailbox)\b|"
    r"\b(?:address|e-?mail|account|one|mailbox)\s+(?:that\s+|which\s+)?"
    r"(?:this\s+(?:e-?mail|message)|i|we)\s+(?:has\s+|have\s+|am\s+|are\s+|is\s+|was\s+)?"
    r"(?:\w+\s+){0,2}?(?:come|came|comes|coming|sent|sending|writing|using|emailing)\s+from\b",
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
    pointer = _SENDER_POINTER.search(text)
    if pointer and ex.sender and ex.sender not in (draft.current_email, draft.new_email):
        # "the address I'm writing from": which one it is, the words just before it say
        cues = list(_EMAIL_CUE.finditer(text[max(0, pointer.start() - 60) : pointer.start()]))
        wants_new = bool(cues) and cues[-1].group("new") is not None
        if wants_new and not draft.new_email:
            draft.fill("new_email", ex.sender)
        elif not draft.current_email:
            draft.fill("current_email", ex.sender)
        elif not draft.new_email:
            draft.fill("new_email", ex.sender)


def _bare_name(name: str) -> str:
    return re.sub(r"^(?:dr|mr|mrs|ms|miss|mx|prof)\.?\s+", "", name.casefold()).strip()


def _signer_address(ex: Extraction) -> None:
    """'Main contact: Dr Owen Price' with no address, signed 'Dr Owen Price' from
    owen.price@nhs.net: the contact is the sender, so the From address is theirs."""
    names = {_bare_name(n) for n in (ex.signer, ex.signer_plain) if n}
    if not names or not ex.sender or not ex.sender_signed:
        return
    for draft in ex.drafts.values():
        if (
            draft.contact_name
            and not draft.contact_email
            and _bare_name(draft.contact_name) in names
        ):
            draft.fill("contact_email", ex.sender)


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
