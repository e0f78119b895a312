"""Prose: organisation mentions, codes, addresses, phones and people in sentences, each
given to the party the words around it point at."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pcse_intake.parsers import normalise as nf
from pcse_intake.parsers.drafts import (
    ADDRESS_CUE,
    CODE_PHRASE,
    LEADING_NOISE,
    OLD_CODE,
    ORG_NAME,
    ORG_WORDS,
    PERSON,
    PRIMARY,
    SENTENCE_START_NOISE,
    TITLE,
    Draft,
    Extraction,
    is_org_named_after_people,
)
from pcse_intake.parsers.model import RequestKind


@dataclass
class Mention:
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


def find_mentions(sentence: str) -> list[Mention]:
    found: list[Mention] = []
    for m in ORG_NAME.finditer(sentence):
        words = m.group(0).split()
        start = m.start()
        opens_sentence = not sentence[: m.start()].strip()
        while words:
            word = words[0].lower().strip(",")
            if word in LEADING_NOISE:
                opens_sentence = False  # "We're The Old Forge Surgery": the article stays
            elif not (opens_sentence and word in SENTENCE_START_NOISE):
                break
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
                c for c in nf.ODS_TOKEN.finditer(inner) if not OLD_CODE.search(inner[: c.start()])
            ]
            code = nf.ods_code(codes[0].group(1)) if codes else None
            kind = nf.org_type(inner)
            if not code and not kind and not ORG_WORDS.search(name):
                continue
        elif comma_code and nf.find_ods(comma_code.group(1)):
            code = nf.find_ods(comma_code.group(1))[0]
        elif not ORG_WORDS.search(name) or PERSON.fullmatch(name):
            continue
        if (PERSON.match(name) and not is_org_named_after_people(name)) or name.lower() in (
            "pcse",
            "pcse online",
            "nhs",
        ):
            continue
        if re.search(r"\bPCSE\b|\bNHS England\b|\bICB\b", name):
            continue
        found.append(Mention(name, start, m.end(), code, kind))
    return found


def prose_pass(ex: Extraction, lines: list[str]) -> None:
    primary = PRIMARY[ex.kind]
    text = "\n".join(lines)
    for paragraph in re.split(r"\n\s*\n", text):
        carry: str | None = None  # the party the previous sentence was about ("It is at ...")
        for sentence in _sentences(paragraph):
            carry = _prose_sentence(ex, sentence, primary, carry)


# "I'm the main contact for Elm Pharmacy" in a set-up request: a practice that already has
# PCSE Online (the new one has no main contact yet), unless it is called the new one.
_PRESENT_CONTACT_AT = re.compile(
    r"\b(?:i am|i'm)\s+(?:the\s+)?main contact\s+(?:for|at|of)\s+(?!(?:the\s+|our\s+)?new\b)"
    r"(?:the\s+)?(?:[\w'&-]+\s*){0,6}$"
)


def _sentence_role(ex: Extraction, before: str, primary: str) -> str:
    """The role a mention takes from the words before it in its sentence."""
    low = before.lower()[-80:]
    if ex.kind is RequestKind.MAIN_CONTACT_EXTENSION:
        if re.search(
            r"\b(to|opened|opening|new|cover|covering|additional|second|also|taken over|"
            r"took over|taking over|acquired|bought|purchased|taken on|run)\b[^,]{0,40}$",
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
        ) or _PRESENT_CONTACT_AT.search(low):
            return "existing_practice"
        return "new_practice"
    return primary


_PAIRS = {
    "existing_practice": "new_practice",
    "new_practice": "existing_practice",
    "main_practice": "branch",
    "branch": "main_practice",
}


def _known_or_other(ex: Extraction, name: str, role: str) -> str:
    """A practice already named keeps its party ("Castle Pharmacy is at ..."); a second,
    different practice goes to the other party of an extension or branch request when the
    words gave no role of their own and that party is still unnamed."""
    key = name.casefold()
    for known_role, draft in ex.drafts.items():
        if draft.name and draft.name.casefold() == key:
            return known_role
    other = _PAIRS.get(role)
    current = ex.drafts.get(role)
    if (
        ex.kind in (RequestKind.MAIN_CONTACT_EXTENSION, RequestKind.BRANCH_SETUP)
        and other is not None
        and current is not None
        and current.name
        and not ex.draft(other).name
    ):
        return other
    return role


_WE = re.compile(r"^\W*(we|we're|we\u2019re|we've|we\u2019ve|our|us|i|i'm|i\u2019m|my)\b", re.I)


def _prose_sentence(ex: Extraction, sentence: str, primary: str, carry: str | None) -> str | None:
    """Read one sentence; return the party it was about, for the next sentence."""
    mentions = find_mentions(sentence)
    if _WE.match(sentence):
        carry = None  # "we"/"our" is the sender's own practice, the request's primary party
    roles: list[str] = []
    used: set[str] = set()
    for mention in mentions:
        role = _sentence_role(ex, sentence[: mention.start], primary)
        if ex.kind is RequestKind.MAIN_CONTACT_EXTENSION and role in used and len(mentions) == 2:
            role = "new_practice" if role == "existing_practice" else "existing_practice"
        role = _known_or_other(ex, mention.name, role)
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
        if OLD_CODE.search(sentence[: m.start()]):
            continue
        code = nf.ods_code(m.group(1))
        role = owner(m.start())
        if ex.kind is RequestKind.BRANCH_SETUP and len(code) == 9:
            role = "branch"
        ex.draft(role).fill("ods_code", code)
    for m in CODE_PHRASE.finditer(sentence):
        token = re.sub(r"\s", "", m.group(1)).upper()
        if any(c.isdigit() for c in token) and not OLD_CODE.search(sentence[: m.start()]):
            # "our code is A1234": kept as written, validation flags it
            ex.draft(owner(m.start(1))).fill("ods_code", token)
    for where, found in _addresses(sentence):
        ex.draft(owner(where)).fill("address", nf.address(found))
    for m in nf.PHONE.finditer(sentence):
        ex.draft(owner(m.start())).fill("phone", nf.phone(m.group(0)))
    for m in PERSON.finditer(sentence):
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
    r"\b(?:I am|I'm|I\u2019m|I will be|I'll be|I\u2019ll be|I shall be|I would be|I'd be|"
    r"I would like to be|I'd like to be|I\u2019d like to be|I will act as|I will remain)\s+"
    r"(?:the\s+|their\s+|its\s+|(?:currently|already|also)\s+(?:the\s+)?)?"
    r"(?:existing\s+|current\s+|nominated\s+)?main contact\b|"
    r"\bmain contact (?:will be|is|should be) (?:me|myself)\b|"
    r"\b(?:with|make|add|set up|register|have|put) me (?:down )?as (?:the\s+)?main contact\b",
    re.I,
)
# "She is already the main contact at Evington Pharmacy": the person just named
_ALSO_CONTACT = re.compile(
    r"(?:\b(?i:he|she|they|who)|(?P<person>" + PERSON.pattern + r"))\s+(?i:is|are)\s+"
    r"(?:(?i:also|already|currently)\s+)+(?i:the\s+|a\s+)?(?i:main contact)\b"
)


_ALSO_FOR_NEW = re.compile(
    r"(?i)\b(?:will|would like to|'ll|'d like to|want to|wish to)\s+(?:also\s+)?be\b"
    r"[^.]{0,20}\bmain contact\b|\bfor both\b"
)


_FOR_BOTH = re.compile(r"(?i)\s*(?:of|for|at)\s+both\b")


_NAMED_CONTACT = re.compile(
    r"\b(?i:main contact)\b[^.]{0,30}?\b(?i:will be|is|should be|to be|would be)\s+"
    r"(?P<name>[A-Z][\w'\u2019-]{1,30}(?:\s[A-Z][\w'\u2019-]{1,30}){1,2})\b"
    r"(?:\s*[,(]\s*(?P<email>" + nf.EMAIL.pattern + "))?"
)


def _self_as_contact(ex: Extraction, sentence: str, primary: str) -> None:
    """'my email is X'; 'I am the main contact' points at the sender's own address."""
    role = _contact_role(ex, sentence, len(sentence), primary)
    draft = ex.draft(role)
    mine = _MY_EMAIL.search(sentence)
    if mine:
        draft.fill("contact_email", mine.group(1).lower())
    named = _NAMED_CONTACT.search(sentence)
    if named and not PERSON.match(named.group("name")):
        # "the main contact will be Sarah Jones (sarah.jones@nhs.net)": no title written
        draft.fill("contact_name", nf.person_name(named.group("name")))
        if named.group("email"):
            draft.fill("contact_email", named.group("email").lower())
    also = _ALSO_CONTACT.search(sentence) if ex.kind is RequestKind.NEW_PRACTICE_SETUP else None
    if also:
        existing = ex.draft("existing_practice")
        if also.group("person"):
            name = nf.person_name(also.group("person"))
            existing.fill("contact_name", name)
            existing.fill("contact_email", _email_of(ex, name))
        else:
            just_named = ex.draft("new_practice")  # the person just named for the new practice
            existing.fill("contact_name", just_named.contact_name)
            existing.fill("contact_email", just_named.contact_email)
    me = _I_AM_CONTACT.search(sentence)
    if me:
        if ex.kind is RequestKind.NEW_PRACTICE_SETUP and (
            re.search(r"(?i)\b(currently|already)\b", me.group(0))
            or (
                not re.search(r"(?i)\b(will|would|'ll|'d|shall)\b", me.group(0))
                and re.match(
                    r"\s+(?:for|at|of)\s+(?!(?i:the\s+|our\s+)?new\b)(?:the\s+)?[A-Z]",
                    sentence[me.end() :],
                )
            )
        ):
            draft = ex.draft("existing_practice")  # "I am already the main contact for X"
            if _ALSO_FOR_NEW.search(sentence, me.end()):
                # "... and will be the main contact for the new one as well"
                sender_as_contact(ex, ex.draft("new_practice"), sentence)
        if ex.kind is RequestKind.BRANCH_SETUP and _FOR_BOTH.match(sentence, me.end()):
            # "I am the main contact for both sites"
            sender_as_contact(ex, ex.draft("main_practice"), sentence)
            draft = ex.draft("branch")
        sender_as_contact(ex, draft, sentence)


_SELF_INTRODUCED = re.compile(r"(?i:\bmy name is|\bI am|\bI'm)\s+(" + PERSON.pattern + ")")


def self_introduced(text: str) -> str | None:
    """The titled name the writer gives themself ("My name is Mr Bilal Nazir", "I am Dr
    Sarah Jones, the main contact"): who "I" is, before an untitled sign-off."""
    for m in _SELF_INTRODUCED.finditer(text):
        if not re.search(r"'s\b", m.group(1)):  # "I'm Dr Khan's practice manager"
            return nf.person_name(m.group(1))
    return None


def says_i_am_contact(sentence: str) -> bool:
    return _I_AM_CONTACT.search(sentence) is not None


def sender_as_contact(ex: Extraction, draft: Draft, sentence: str) -> None:
    """The sender is the party's contact: the From address, and the name the sign-off or
    the text gives them."""
    if ex.sender_signed:
        draft.fill("contact_email", ex.sender)
    draft.fill(
        "contact_name",
        ex.self_named
        or ex.signer
        or _sender_as_written(ex, sentence)
        or _contact_named_for(ex, ex.sender)
        or ex.signer_plain,
    )


def _email_of(ex: Extraction, name: str) -> str | None:
    """The address already given for a contact of that name."""
    for draft in ex.drafts.values():
        if draft.contact_name and draft.contact_name.casefold() == name.casefold():
            return draft.contact_email
    return None


def _contact_named_for(ex: Extraction, address: str | None) -> str | None:
    """The name another party's contact with the same address was given ('Main contact:
    Mr Nikhil Patel, nikhil.patel2@nhs.net' then 'I am already the main contact at ...')."""
    for draft in ex.drafts.values():
        if address and draft.contact_email == address and draft.contact_name:
            return draft.contact_name
    return None


def _sender_as_written(ex: Extraction, sentence: str) -> str | None:
    """The titled name the sentence gives beside the sender's own address, if any."""
    for person in PERSON.finditer(sentence):
        after = sentence[person.end() : person.end() + 60].lower()
        if ex.sender and re.match(r"\W{0,4}" + re.escape(ex.sender), after):
            return nf.person_name(person.group(0))
    return None


def we_from_signature(ex: Extraction, signature: str) -> None:
    """Who "we" are when only the sign-off names the practice ('Practice Manager /
    Greenlane Surgery'): the primary party's name, never its phone or address."""
    draft = ex.draft(PRIMARY[ex.kind])
    if draft.name or not draft.touched:
        return
    for line in signature.split("\n")[1:6]:
        first = re.split(r",|\||\s[-\u2013]\s", line)[0].strip()
        if (
            ORG_WORDS.search(first)
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


def signed_by_sender(signature: str, sender: str | None) -> bool:
    """False when a personal mailbox (jane.doe@) is signed by someone else ('Thanks /
    Ahmed'): then "I" is not the sender and the From address is not their address."""
    if not sender:
        return False
    local = sender.split("@")[0].lower()
    if not re.fullmatch(r"[a-z]+[._-][a-z]+\d*", local):
        return True  # a shared or unusual mailbox: the sender is whoever signs
    for line in signature.split("\n")[:3]:
        line = re.sub(
            r"(?i)^\W*(?:kind(?:est)? |best |warm )?(?:regards|thanks|thank you|"
            r"many thanks|best wishes|cheers)\W*",
            "",
            line,
        ).strip()
        words = re.sub(rf"^{TITLE}\s+", "", line).split()
        if not line or not all(re.fullmatch(r"[A-Z][a-z'-]+", w) for w in words[:3]):
            continue
        if len(words) > 3 or ORG_WORDS.search(line) or re.search(r"(?i)\bteam\b", line):
            continue
        return any(w.lower() in local for w in words if len(w) >= 3)
    return True


_PLAIN_NAME = re.compile(r"[A-Z][a-z'\u2019-]{1,30}(?: [A-Z][a-z'\u2019-]{1,30}){1,2}")


def signer(signature: str, *, titled: bool = True) -> str | None:
    """A titled name in the sign-off ('Mrs Jane Doe', 'Dr Sam Hill MRCGP'); with
    `titled=False`, a line that is only a first name and surname ('Nikhil Patel MPharm')."""
    for line in signature.split("\n")[:4]:
        if titled:
            person = PERSON.match(line.strip())
            if person:
                return nf.person_name(person.group(0))
            continue
        name = nf.person_name(re.sub(r"^\W*(?:regards|thanks|best wishes)\W*", "", line))
        if _PLAIN_NAME.fullmatch(name) and not ORG_WORDS.search(name):
            return name
    return None


def _contact_role(ex: Extraction, sentence: str, pos: int, primary: str) -> str:
    before = sentence[:pos].lower()
    if ex.kind is RequestKind.BRANCH_SETUP and "branch" in before[-60:]:
        return "branch"
    if ex.kind is RequestKind.NEW_PRACTICE_SETUP and re.search(r"already", before[-60:]):
        return "existing_practice"
    return primary


def _names_first(between: str) -> bool:
    """'at Kingsway Surgery (K83 010), 5 Kingsway, ...': the cue is followed by the practice,
    not its address, so the address starts at the house number."""
    return bool(nf.find_ods(between) or ORG_WORDS.search(between))


def _addresses(sentence: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for pc in nf.POSTCODE.finditer(sentence):
        head = sentence[: pc.start()]
        cue = None
        for m in ADDRESS_CUE.finditer(head):
            cue = m
        num = None
        for m in re.finditer(r"(?<![\w£])(\d+[A-Za-z]?(?:-\d+)?),?\s+[A-Z]", head):
            num = m
        if cue is not None and (
            num is None
            or num.start() < cue.end()
            or (num.start() - cue.end() < 40 and not _names_first(head[cue.end() : num.start()]))
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
