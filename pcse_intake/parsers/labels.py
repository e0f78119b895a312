"""What a label means: the field it names and the party it points at, as practices write them
("Pratice code", "ODS", "Org code", "Practice email (current)", the FAQ's long bullets)."""

from __future__ import annotations

import re
from functools import lru_cache

# Generic roles a label or heading may point at; extract.py maps them onto each kind's roles.
MAIN, BRANCH, EXISTING, NEW = "main", "branch", "existing", "new"

_ORG_NOUN = (
    r"(?:practice|pharmacy|pharmacies|surgery|organi[sz]ation|site|dental(?: practice)?|"
    r"dentist|opticians?|clinic|premises|store|branch|location)"
)
_ROLE_CUES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bbranch(es)?\b|\bmerged\b|\bmerger\b"), BRANCH),
    (re.compile(r"\bmain (practice|site|surgery|organi[sz]ation)\b|\bparent practice\b"), MAIN),
    (
        re.compile(
            rf"\b(existing|current|old|present|original|first)\s+{_ORG_NOUN}\b|^existing\b|"
            r"\b(?:already|also|currently) (?:the |a )?main contact\b|^current\b(?!\s+e-?mail)"
        ),
        EXISTING,
    ),
    (
        re.compile(
            rf"\b(new|second|additional|another)\s+(?:gp\s+|community\s+)?{_ORG_NOUN}\b|^new\b"
        ),
        NEW,
    ),
)

_EMAIL_WORD = re.compile(r"\be-?mail\b|\bmail ?box\b|\bnhs\.?net\b")
_PHONE_WORD = re.compile(
    r"\b(tel|telephone|phone|mobile|landline|contact number|phone number|number)\b"
)
_CONTACT_WORD = re.compile(r"\bcontact\b|\bnominated\b|\buser admin")
_CODE_WORD = re.compile(r"\b(ods|code|org code|organi[sz]ation code|national code)\b")
_NAME_WORD = re.compile(
    rf"\bname\b|^(the )?(main |existing |new |current |branch )*{_ORG_NOUN}s?$|"
    r"^(main|existing|new|current|branch)$|^(main|existing|new|current)\s+(one|details)$"
)
_CURRENT_WORD = re.compile(r"\b(current|old|existing|present|from|previous|was)\b")
_NEW_WORD = re.compile(r"\b(new|to|future|replacement|will be)\b")


# The words labels are made of; a typed word one slip away from one of them ('naem',
# 'cdoe', 'contcat', 'emial', 'telphone', 'orgnaisation') reads as that word.
_LABEL_WORDS = (
    "practice",
    "name",
    "contact",
    "email",
    "address",
    "telephone",
    "phone",
    "code",
    "organisation",
    "organization",
    "type",
    "branch",
    "main",
    "existing",
    "current",
    "pharmacy",
    "surgery",
    "postcode",
    "number",
    "details",
)


def _one_slip(word: str, target: str) -> bool:
    """Two swapped neighbours, one letter wrong in a word of six or more, or one letter
    missing or extra in a word of eight or more."""
    if word == target:
        return True
    if len(word) == len(target):
        diff = [i for i in range(len(word)) if word[i] != target[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1:
            return word[diff[0]] == target[diff[1]] and word[diff[1]] == target[diff[0]]
        return len(diff) == 1 and len(word) >= 6
    if abs(len(word) - len(target)) != 1 or len(target) < 8:  # not 'contract' for 'contact'
        return False
    short, long_ = sorted((word, target), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


@lru_cache(maxsize=4096)
def _correct(word: str) -> str:
    if len(word) < 4 or not word.isalpha() or word in _LABEL_WORDS:
        return word
    for target in _LABEL_WORDS:
        if _one_slip(word, target):
            return target
    return word


# A parenthetical in a label: its qualifying words kept ("Practice email (current)", "Main
# contact (name and email)"), a remark dropped ("New email (please use this for everything
# from 1st October)", "Practice code (if needed)", "Phone (reception)").
PARENTHESIS = re.compile(r"\(([^()]{0,200})\)")
_QUALIFIER = re.compile(
    r"(?:\s|[,/&-]|\b(?:and|or|the|of|current|old|new|existing|previous|present|future|"
    r"replacement|main|branch|practice|pharmacy|surgery|site|premises|name|e-?mail|address|code|ods|"
    r"phone|telephone|tel|number|contact|type|postcode|nhs\.?net|mailbox|details)\b)*"
)


def without_remarks(label: str) -> str:
    """The label with its parenthetical remarks removed, the qualifying words that open
    them kept ("Email (new - please use this from Monday)" reads as "Email new")."""
    return PARENTHESIS.sub(lambda m: f" {_qualifiers(m.group(1))} ", label)


def _qualifiers(remark: str) -> str:
    m = _QUALIFIER.match(remark.lower())  # always matches, maybe empty
    return m.group(0) if m else ""


@lru_cache(maxsize=4096)
def normalise_label(label: str) -> str:
    label = without_remarks(label.lower().replace("\u2019", "'"))
    label = re.sub(r"[*_•·>\[\]]", " ", label)
    label = label.replace("pratice", "practice").replace("practise", "practice")
    label = label.replace("adress", "address").replace("telphone", "telephone")
    label = label.replace("e mail", "email")
    if len(label) <= 120:
        label = re.sub(r"[a-z]{4,14}", lambda m: _correct(m.group(0)), label)
    label = re.sub(r"\bpost[ -]code\b", "postcode", label)
    return " ".join(label.split()).strip(" .:-")


def role_of(label: str) -> str | None:
    """The generic role a label or heading points at, if it names one."""
    text = normalise_label(label)
    for pattern, role in _ROLE_CUES:
        if pattern.search(text):
            return role
    return None


def field_of(label: str) -> str | None:
    """The field a label names: name, ods_code, org_type, address, phone, contact_name,
    contact_email, current_email, new_email, email (an e-mail of unclear purpose)."""
    text = normalise_label(label)
    if not text or len(text) > 120:
        return None
    if _EMAIL_WORD.search(text):
        if _CONTACT_WORD.search(text):
            return "contact_email"
        if _CURRENT_WORD.search(text):
            return "current_email"
        if _NEW_WORD.search(text):
            return "new_email"
        return "email"
    if _PHONE_WORD.search(text):
        return "phone"
    if _CONTACT_WORD.search(text):
        return "contact_name"
    if re.search(r"\baddress\b|\bpostcode\b|\blocation\b|^(town|city|county|locality)$", text):
        if re.search(r"\bold\b|\bcurrent\b", text) and "practice address" not in text:
            return "address_or_current"
        if re.search(r"\bnew address\b", text):
            return "address_or_new"
        return "address"
    if re.search(r"\btype\b|\bsector\b|\bcategory\b", text):
        return "org_type"
    if _CODE_WORD.search(text) and re.search(r"\bname\b|\bdetails\b", text):
        return "name"  # "Practice name and code: Greenlane Surgery, A12345" reads as a whole
    if _CODE_WORD.search(text):
        return "ods_code"
    if re.search(r"\b(title)\b", text):
        return "contact_name"
    if _NAME_WORD.search(text):
        return "name"
    if re.fullmatch(r"(current|old|from)", text):
        return "current_email_or_name"
    if re.fullmatch(r"(new|to)", text) or re.fullmatch(
        r"(please )?(change|update|replace|amend|switch)(d)?( it| this)? (to|with)", text
    ):
        return "new_email_or_name"
    if re.fullmatch(rf"((main|existing|new|current|branch) )?{_ORG_NOUN} details", text):
        return "name"
    return None
