"""Normal forms from CONTRACT.md section 1: ODS codes, phones, addresses, e-mails, names."""

from __future__ import annotations

import re

import phonenumbers

# An ODS-looking token as practices type it: letters and digits, maybe spaced in groups
# ("B83 855", "N81 790 001", "tp9d4"). Validity is judged later, in validate.py.
ODS_TOKEN = re.compile(
    r"(?<![\w@.])("
    r"[A-Z]\d{2}\s?\d{3}(?:\s?\d{3})?"  # GP main practice / branch
    # pharmacy, dental and optical codes hold at least one digit ("FK5W1"), which keeps
    # words such as "Focal" or "Valley" from reading as codes
    r"|F(?=[A-Z]{0,3}\d)[A-Z0-9]{4}"  # pharmacy
    r"|V\d{3}\s\d{2,3}|V(?=[A-Z]{0,4}\d)[A-Z0-9]{5,6}"  # dental ("V123 456" too)
    r"|TP(?=[A-Z]{0,2}\d)[A-Z0-9]{3,4}"  # optical
    r")(?![\w@])",
    re.IGNORECASE,
)
POSTCODE = re.compile(
    r"\b([A-Z]{1,2}\d[A-Z\d]?)\s{0,3}(\d[A-Z]{2})\b",
    re.IGNORECASE,
)
# Bounded repeats (RFC 5321 sizes) keep every search linear: an unbounded local part made
# "a.a.a.a..." quadratic.
EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}"
)
# UK phone numbers as written: 0113 496 0682, (0114) 496 0744, +44 (0)20 7946 0759, 07700900123
PHONE = re.compile(r"(?<![\w+])(?:\+\s?44\s?(?:\(0\)\s?)?|\(?0)\d[\d\s()-]{7,14}\d(?!\d)")
TITLES = ("dr", "mr", "mrs", "ms", "miss", "mx", "prof", "professor", "sir", "dame", "rev")
_POST_NOMINALS = re.compile(
    r"(,?\s+\(?(BDS|MRPharmS|MRCGP|MBBS|MBChB|BSc|MSc|MPharm|FRCGP|PhD|MB|ChB|BM|"
    r"DRCOG|DFFP|MFDS|FDS|MRCS|MRCP|GPhC|RGN|RN|FCOptom|MCOptom|Optom)\)?\.?)+\s*$"
)
ORG_TYPES = {
    "gp": "gp",
    "general practice": "gp",
    "gp practice": "gp",
    "gp surgery": "gp",
    "surgery": "gp",
    "medical practice": "gp",
    "dental": "dental",
    "dentist": "dental",
    "dental practice": "dental",
    "dentistry": "dental",
    "optical": "optical",
    "optician": "optical",
    "opticians": "optical",
    "ophthalmic": "optical",
    "optometrist": "optical",
    "optometry": "optical",
    "pharmacy": "pharmacy",
    "chemist": "pharmacy",
    "community pharmacy": "pharmacy",
}


def collapse(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


def ods_code(text: str) -> str:
    """Upper case, no spaces: 'b83 855' -> 'B83855' (validity is checked elsewhere)."""
    return re.sub(r"[\s.\-]", "", text).upper()


def find_ods(text: str) -> list[str]:
    return [ods_code(m.group(1)) for m in ODS_TOKEN.finditer(text)]


def phone(text: str) -> str | None:
    """A UK number in E.164 (+441134960682); an invalid one keeps its digits the same way."""
    digits = re.sub(r"[^\d+]", "", text.replace("(0)", ""))
    if not re.search(r"\d{6}", re.sub(r"\D", "", digits)):
        return None
    try:
        number = phonenumbers.parse(digits, "GB")
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and _is_uk_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    bare = re.sub(r"\D", "", digits)
    if bare.startswith("44"):
        return "+" + bare
    if bare.startswith("0"):
        return "+44" + bare[1:]
    return "+" + bare if digits.startswith("+") else bare


def _is_uk_number(number: phonenumbers.PhoneNumber) -> bool:
    """A well-formed UK number. `is_valid_number` rejects Ofcom's drama ranges (0115 496
    0xxx, 01632 960xxx, 07700 900xxx...), which practices' examples and test mail use, so a
    number counts when it is valid, or when it is possible for GB with the ten national
    digits and the leading digit (01/02/03/05/07/08/09) of a UK number. Nine or eleven
    national digits and junk stay invalid unless phonenumbers knows the range (0800 xxx xxx)."""
    if number.country_code != 44:
        return False
    if phonenumbers.is_valid_number(number):
        return True
    national = str(number.national_number)
    return (
        len(national) == 10
        and national[0] in "1235789"
        and not number.italian_leading_zero
        and phonenumbers.is_possible_number(number)
    )


def phone_is_valid(value: str) -> bool:
    try:
        number = phonenumbers.parse(value, "GB")
    except phonenumbers.NumberParseException:
        return False
    return _is_uk_number(number)


def find_phones(text: str) -> list[str]:
    out = []
    for m in PHONE.finditer(text):
        value = phone(m.group(0))
        if value:
            out.append(value)
    return out


def mask_phones(text: str) -> str:
    """`text` with everything written like a phone number starred but for its last three digits.

    For audit rows and logs (battery case 55: phone numbers are shown whole only where a
    caseworker verifies a request). Separators are kept: "0113 496 0682" -> "**** *** *682".
    Validity is not asked: a mistyped number is masked too, while dates and counts (which
    do not start 0 or +44) are left alone.
    """
    return PHONE.sub(_masked_match, text)


def _masked_match(match: re.Match[str]) -> str:
    found = match.group(0)
    to_star = sum(ch.isdigit() for ch in found) - 3
    out = []
    for ch in found:
        if ch.isdigit() and to_star > 0:
            out.append("*")
            to_star -= 1
        else:
            out.append(ch)
    return "".join(out)


def postcode(text: str) -> str | None:
    m = POSTCODE.search(text)
    return f"{m.group(1).upper()} {m.group(2).upper()}" if m else None


def address(text: str) -> str:
    """One line, parts joined with ', ', postcode last, upper case with one space."""
    text = text.replace("\n", ",").replace("|", ",")
    parts = [collapse(p).strip(" .;-") for p in text.split(",")]
    parts = [p for p in parts if p]
    code: str | None = None
    kept: list[str] = []
    for part in parts:
        m = POSTCODE.search(part)
        if m and code is None and len(part) <= 60:
            code = f"{m.group(1).upper()} {m.group(2).upper()}"
            rest = collapse(part[: m.start()] + part[m.end() :]).strip(" ,.-")
            if rest:
                kept.append(rest)
        else:
            kept.append(part)
    if code:
        kept.append(code)
    return ", ".join(kept)


def email(text: str) -> str:
    return text.strip().strip("<>.,;:()[]'\"").lower() if "@" in text else text.strip().lower()


def find_emails(text: str) -> list[str]:
    return [m.group(0).lower() for m in EMAIL.finditer(text)]


def person_name(text: str) -> str:
    """As written, title kept, post-nominals (BDS, MRPharmS) dropped, spaces collapsed."""
    name = collapse(text).strip(" ,;:-")
    name = _POST_NOMINALS.sub("", name).strip(" ,")
    return name


def org_type(text: str) -> str | None:
    key = collapse(text).lower().strip(" .()")
    if key in ORG_TYPES:
        return ORG_TYPES[key]
    for word, kind in ORG_TYPES.items():
        if re.search(rf"\b{re.escape(word)}\b", key):
            return kind
    return None


# Curly apostrophes and quotes as mail clients type them. Every phrase rule is written with
# straight ones, so the text is matched in this form (a curly "I\u2019m" reads as "I'm");
# values taken from it get the sender's own characters back (`with_quotes_of`).
_QUOTES = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"'}
)
_QUOTE_CLASS = {"'": "['\u2019\u2018\u02bc\u201b]", '"': '["\u201c\u201d]'}


def straight_quotes(text: str) -> str:
    """The same text, one character for one, with curly apostrophes and quotes straight."""
    return text.translate(_QUOTES)


def with_quotes_of(value: str, original: str) -> str:
    r"""`value` (read from the straightened text) with the apostrophes and quotes the sender
    wrote: "O'Neill's Pharmacy" -> "O\u2019Neill\u2019s Pharmacy" when `original` spells it so."""
    if "'" not in value and '"' not in value:
        return value
    parts: list[str] = []
    for ch in value:
        if ch in _QUOTE_CLASS:
            parts.append(f"({_QUOTE_CLASS[ch]})")
        elif ch.isspace():
            parts.append(r"\s+")
        else:
            parts.append(re.escape(ch))
    m = re.search("".join(parts), original)
    if m is None:
        return value
    quotes = iter(m.groups())
    return "".join(next(quotes) if ch in _QUOTE_CLASS else ch for ch in value)
