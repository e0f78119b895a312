"""Which of the four requests (or none) a message makes, from its subject and body together."""

from __future__ import annotations

import re

from pcse_intake.parsers import normalise as nf
from pcse_intake.parsers.model import RequestKind

_EXTEND = re.compile(
    r"\bextend(?:ed|ing)?\b[^.?!]{0,80}\bmain contact\b|"
    r"\bmain contact\b[^.?!]{0,80}\bextend(?:ed|ing)?\b|"
    r"\bextension of (?:the |our )?main contact\b|"
    r"\bextend\w*\b[^.?!]{0,40}\b(?:access|account|role|log-?in)\b[^.?!]{0,40}"
    r"\b(?:new|another|second|additional)\s+(?:practice|pharmacy|surgery|site)\b",
    re.I,
)
# Weaker wording of an extension ("add it to my existing account"): it counts only when the
# e-mail does not ask for the new practice's set-up or access.
_EXTEND_WEAK = re.compile(
    r"\b(?:add|link)(?:ed|ing)?\b[^.?!]{0,50}\bto (?:my|our|the|his|her|their) "
    r"(?:existing )?(?:pcse online )?(?:account|log-?in|access|main contact)\b|"
    r"\badd(?:ed)? (?:the|our|my) (?:new )?(?:practice|pharmacy)"
    r"[^.?!]{0,40}\b(?:account|main contact)\b",
    re.I,
)
_BRANCH = re.compile(r"\bbranch(?:es)?\b|\bmerg(?:er|ed|ing)\b", re.I)
_NEW_PRACTICE = re.compile(
    r"\bnew\s+(?:gp\s+|dental\s+|community\s+)?(?:practice|pharmacy|surgery|optician'?s?|"
    r"organi[sz]ation|dental practice|dentist)\b"
    r"(?!\s*(?:e-?mail|mailbox|address|manager|lead|administrator|staff|team|inbox))|"
    r"\b(?:just|recently|newly)\s+opened\b|\bnewly registered\b|"
    r"\bnew (?:ods|organi[sz]ation) code\b",
    re.I,
)
# The ask of a set-up: PCSE Online access or set-up for the (new) practice. With it, an
# existing practice and "I am already main contact there" are context, not an extension.
_SETUP_ASK = re.compile(
    r"\bset(?:ting)?[ -]?up\b[^.?!]{0,60}\b(?:pcse online|access|new)\b|"
    r"\bset (?:us|it|them|the new \w+) up\b|\bgive (?:us|the new \w+) access\b|"
    r"\baccess to pcse online\b|\bpcse online access\b|"
    r"\bregist(?:er|ration)\b[^.?!]{0,40}\bnew (?:practice|pharmacy|surgery)\b",
    re.I,
)
# Weaker wording that also fits a user's access request: it counts only beside an
# organisation's code or postcode.
_SET_UP = re.compile(
    r"\bset (?:us|it|them) up\b|\bgive us access\b|\baccess to pcse online\b", re.I
)
_EMAIL_CHANGE = re.compile(
    r"\b(?:practice|our|the|its|their|generic|shared|surgery|pharmacy|nhs\.?net|"
    r"organi[sz]ation(?:al)?)[ \t]+(?:(?:old|new|current|existing|present|main|generic|"
    r"shared|nhs\.?net)[ \t]+){0,2}(?:e-?mail|mailbox|inbox|nhs ?mail)(?:\s+address)?\b|"
    r"\bmailbox\b|\bnhs ?mail address\b|"
    r"\bswitch us over\b|\bstop using\s+\S{1,80}@|\bwould like everything sent to\b",
    re.I,
)
_CHANGE_VERB = re.compile(
    r"\b(update|updating|change|changed|changing|amend|amending|switch|replace|stop using|"
    r"new|use|using|moving|move|sent to|correct)\b",
    re.I,
)
# Other business: questions and tasks that are not one of the four requests.
_OTHER = re.compile(
    r"\b(deactivat\w*|leaver|left the practice|has left|password|log ?in details|locked out|"
    r"stationery|supplies|place an order|boxes of|invoice|pension|accountant|"
    r"change (?:of |the |our )?main contact"
    r"|new main contact|main contact (?:change|is changing)|phone number (?:has )?change|"
    r"telephone number (?:has )?change|unsubscribe|moved (?:to )?(?:new )?premises|relocat\w*|"
    r"has joined|new (?:gp(?! practice| surgery)|member of staff|starter|user|locum)|"
    r"add (?:a )?(?:new )?user)\b",
    re.I,
)
_QUESTION = re.compile(
    r"\b(how (?:do|can|would|should|long)|what(?:'s| is) the process|what do (?:i|we) need|"
    r"do (?:i|we) need|is there a form|where (?:do|can)|can you tell|could you tell|"
    r"who (?:do|should))\b",
    re.I,
)


def classify(subject: str, text: str) -> RequestKind:
    """Decide the request kind; anything that is not clearly one of the four is `unknown`."""
    subject_clean = re.sub(r"^\s*((re|fw|fwd|aw)\s*:\s*)+", "", subject, flags=re.I)
    both = f"{subject_clean}\n{text}"
    details = _has_details(text)
    if _QUESTION.search(both) and (not details or _facts(text) < 2):
        return RequestKind.UNKNOWN  # "what do we need to do to set up Parkview (B82011)?"
    setup_ask = bool(_SETUP_ASK.search(both))
    extend = bool(_EXTEND.search(both)) or (bool(_EXTEND_WEAK.search(both)) and not setup_ask)
    branch = bool(_BRANCH.search(both))
    new = bool(_NEW_PRACTICE.search(both)) or bool(
        _SET_UP.search(both) and (nf.find_ods(text) or nf.POSTCODE.search(text))
    )
    email = bool(_EMAIL_CHANGE.search(both)) and bool(_CHANGE_VERB.search(both))
    if email and _PHONE_CHANGE.search(both) and not _asks_email_change(both):
        email = False  # a new phone number, the mailbox only mentioned: not an e-mail change
    email = email or _old_and_new_addresses(text)
    extend = extend or (
        _existing_and_new_sections(text) and not _ALREADY_CONTACT.search(text) and not setup_ask
    )
    if branch and email and _email_change_shape(text) and not _branch_request(both, text):
        branch = False  # "update the e-mail for our main site and branch" is an e-mail change
    if branch and (not extend or _branch_code(text) or len(_BRANCH.findall(both)) >= 2):
        return RequestKind.BRANCH_SETUP if details else RequestKind.UNKNOWN
    if extend:
        return RequestKind.MAIN_CONTACT_EXTENSION if details else RequestKind.UNKNOWN
    if email and _email_change_shape(text) and not (new and _setup_form(text)):
        return RequestKind.EMAIL_CHANGE
    if new and details and nf.find_ods(text) and len(_LABEL_LINE.findall(text)) >= 3:
        return RequestKind.NEW_PRACTICE_SETUP  # a filled-in set-up form, whatever else it says
    if _OTHER.search(both):
        return RequestKind.UNKNOWN
    if new and details:
        return RequestKind.NEW_PRACTICE_SETUP
    if email and details and _email_change_shape(text):
        return RequestKind.EMAIL_CHANGE
    if details and len(_SETUP_FIELD.findall(text)) >= 4 and nf.find_ods(text):
        return RequestKind.NEW_PRACTICE_SETUP  # an organisation's set-up details, unprompted
    return RequestKind.UNKNOWN


_PHONE_CHANGE = re.compile(
    r"\b(?:new|chang\w*|updat\w*|different)\b[^.\n]{0,40}\b(?:tele)?phone (?:number|no)\b|"
    r"\b(?:tele)?phone (?:number|no)\b[^.\n]{0,40}\b(?:chang\w*|updat\w*|is now|will be)\b",
    re.I,
)
_UNCHANGED = re.compile(
    r"\b(?:stays?|remains?|staying|remaining) (?:the same|unchanged)\b|\bunchanged\b|"
    r"\bhas not changed\b|\bhasn'?t changed\b|\bno change\b",
    re.I,
)


def _asks_email_change(both: str) -> bool:
    """The ask itself: one sentence (the subject is one) naming the practice mailbox with a
    change verb, and not saying it stays the same."""
    for sentence in re.split(r"(?<=[.!?])\s+|\n", both):
        if (
            _EMAIL_CHANGE.search(sentence)
            and _CHANGE_VERB.search(sentence)
            and not _UNCHANGED.search(sentence)
        ):
            return True
    return False


# Layout cues that say what is asked even when no sentence does.
_OLD_NEW_ADDRESS = (
    re.compile(
        r"^\W*(?:[\w ]{0,30}\b)?(?:current|old|existing|present|from)\b[^:\n]{0,40}[:\-][^\n]*@",
        re.I | re.M,
    ),
    re.compile(r"^\W*(?:[\w ]{0,30}\b)?(?:new|to)\b[^:\n]{0,40}[:\-][^\n]*@", re.I | re.M),
)
_SECTION = re.compile(
    r"^\W*(existing|current|new)\s+(?:practice|pharmacy|surgery|organi[sz]ation)\b"
    r"(?!\s*(?:e-?mail|mailbox|inbox))",
    re.I | re.M,
)
_ALREADY_CONTACT = re.compile(r"\balready (?:the |a )?main contact\b", re.I)


def _old_and_new_addresses(text: str) -> bool:
    """'Old address: x@…' and 'New address: y@…' lines: an e-mail change by its shape."""
    return all(p.search(text) for p in _OLD_NEW_ADDRESS)


def _existing_and_new_sections(text: str) -> bool:
    """Labels for an existing practice and for a new one: a main contact extended."""
    found = {m.group(1).lower() for m in _SECTION.finditer(text)}
    return bool(found & {"existing", "current"}) and "new" in found


_LABEL_LINE = re.compile(r"^[^\n:]{2,60}?(?::|\s[-\u2013]\s|\t)[ \t]*\S", re.M)


def _facts(text: str) -> int:
    """How many kinds of fact the text gives: a code, a postcode, a phone, an address."""
    return sum(
        bool(found)
        for found in (
            nf.find_ods(text),
            nf.POSTCODE.search(text),
            nf.PHONE.search(text),
            nf.EMAIL.search(text),
        )
    )


def _has_details(text: str) -> bool:
    """Does the text give anything concrete (a code, an address, a phone, a mailbox)?"""
    return bool(
        nf.find_ods(text)
        or nf.POSTCODE.search(text)
        or nf.EMAIL.search(text)
        or nf.PHONE.search(text)
        or re.search(r"\bcode\s*[:\-]", text, re.I)
    )


_BRANCH_REQUEST = re.compile(
    r"^\W*branch\b|\b(?:new|a|another|second)\s+branch\b|"
    r"\bbranch\s+(?:practice|surgery|site|code|ods|name|address|main contact|set ?up|access)\b|"
    r"\bset\s*up\b[^.]{0,40}\bbranch\b|\bmerg(?:er|ed|ing)\b",
    re.I | re.M,
)


def _branch_request(both: str, text: str) -> bool:
    """Is a branch being set up (a branch code, branch labels or set-up words), rather than
    only mentioned?"""
    return _branch_code(text) or bool(_BRANCH_REQUEST.search(both))


_SETUP_FIELD = re.compile(
    r"^\W*(?:[\w/ ]{0,40}\b)?"
    r"(?:main contact|organi[sz]ation type|type|(?<!mail )address|telephone|phone|tel)\b"
    r"[^:\n]{0,40}[:\-]",
    re.I | re.M,
)


def _setup_form(text: str) -> bool:
    """Set-up details (contact, type, address, phone labels): a new practice's form, even
    when it also gives the practice's own mailbox."""
    return len(_SETUP_FIELD.findall(text)) >= 2


def _branch_code(text: str) -> bool:
    return any(len(code) == 9 for code in nf.find_ods(text))


def _email_change_shape(text: str) -> bool:
    """An e-mail change gives practice mailboxes that are not a contact's (the new one at
    least), and no practice address/phone block of a set-up request."""
    emails = nf.find_emails(text)
    if not emails:
        return False
    contact_only = re.search(
        r"\bmain contact(?:'s|\u2019s|s)?\s+(?:e-?mail|address)|"
        r"\be-?mail (?:address )?(?:of|for) (?:our |the |my )?(?:main )?contact\b",
        text,
        re.I,
    ) and not re.search(
        r"\b(current|old|new|our|the) (practice |generic |shared )?e-?mail", text, re.I
    )
    return not contact_only
