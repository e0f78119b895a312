"""What the sender wrote: quoted replies cut, forwarded requests kept, signatures and
NHSmail disclaimers set aside."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FORWARD_MARK = re.compile(
    r"^\s*(-{2,}\s*forwarded message\s*-{2,}|begin forwarded message:?|"
    r"-{2,}\s*original message\s*-{2,})\s*$",
    re.IGNORECASE,
)
_ON_WROTE = re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE)
_ON_START = re.compile(r"^\s*On\s.{0,200}(\d{4}|\d{1,2}:\d{2})", re.IGNORECASE)
_RULE = re.compile(r"^\s*_{8,}\s*$")
_HEADER_LINE = re.compile(r"^\s*\*?(From|Sent|Date|To|Cc|Subject)\s*:\*?\s*", re.IGNORECASE)
_QUOTED = re.compile(r"^\s*>")
_REPLY_SUBJECT = re.compile(r"^\s*(re|aw|sv)\s*:", re.IGNORECASE)
_POINTS_BELOW = re.compile(
    r"\b(see below|below|forward(?:ed|ing)?|passing (?:this|it) on|on behalf of)\b", re.IGNORECASE
)
_FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|fw)\s*:", re.IGNORECASE)
_SIG_DASHES = re.compile(r"^--\s*$")
_SENT_FROM = re.compile(r"^\s*(sent from (my )?\w+|get outlook for \w+)", re.IGNORECASE)
_SEPARATOR = re.compile(r"^\s*[-_=*~]{5,}\s*$")
_VALEDICTION = re.compile(
    r"^\s*(kind(est)? regards|warm(est)? regards|best regards|many thanks|thanks again|"
    r"with thanks|thanks|thank you|regards|best wishes|all the best|best|cheers|"
    r"yours (sincerely|faithfully|truly)|sincerely)\b[\s,.!]*(\w[\w .'-]{0,40})?$",
    re.IGNORECASE,
)
_DISCLAIMER_WORDS = (
    "confidential",
    "intended recipient",
    "addressed",
    "delete",
    "monitored",
    "privileged",
    "disclaimer",
    "nhsmail",
    "unauthorised",
    "virus",
    "by mistake",
    "in error",
)
MAX_FORWARD_DEPTH = 5
# A signature block after a valediction is short; a longer tail is more of the request.
MAX_SIGNATURE_LINES = 10


@dataclass(frozen=True)
class Reading:
    """A body split by who wrote what."""

    own: str  # what the sender wrote now, signature and disclaimer removed
    forwarded: str  # a forwarded request (the request itself), cleaned the same way
    signature: str  # the sender's sign-off block (tells who "we" are; not request data)


def read_body(text: str, subject: str, sender_names: tuple[str, ...] = ()) -> Reading:
    lines = text.split("\n")
    forwarding = bool(_FORWARD_SUBJECT.match(subject))
    cut, forward_start = _find_history(lines, forwarding)
    if forward_start is None and not forwarding and not _REPLY_SUBJECT.match(subject):
        # no FW: in the subject, but "please see below" over an Outlook header block
        own_text = "\n".join(lines[:cut])
        if cut < len(lines) and len(own_text) < 400 and _POINTS_BELOW.search(own_text):
            cut, forward_start = _find_history(lines, True)
    own_lines = lines[:cut]
    pieces: list[str] = []
    signatures: list[str] = []
    for _ in range(MAX_FORWARD_DEPTH):  # a forward of a forward: read down to the request
        if forward_start is None:
            break
        inner = _skip_header_block(lines[forward_start:])
        inner_cut, nested = _find_history(inner, False)
        text_part, sig_part = _strip_tail(inner[:inner_cut], ())
        pieces.append(text_part)
        signatures.append(sig_part)
        lines, forward_start = inner, nested
    forwarded = "\n\n".join(p for p in pieces if p)
    forwarded_sig = "\n".join(s for s in signatures if s)
    own, signature = _strip_tail(own_lines, sender_names)
    return Reading(own, forwarded, "\n".join(s for s in (signature, forwarded_sig) if s))


def _find_history(lines: list[str], forwarded_subject: bool) -> tuple[int, int | None]:
    """Where quoted history begins, and where a forwarded message begins (if it is one)."""
    for i, line in enumerate(lines):
        if _FORWARD_MARK.match(line):
            is_forward = "original" not in line.lower() or forwarded_subject
            return i, (i + 1 if is_forward else None)
        if _ON_WROTE.match(line) or (
            _ON_START.match(line) and i + 1 < len(lines) and lines[i + 1].strip().endswith("wrote:")
        ):
            return i, None
        if _QUOTED.match(line):
            return i, None
        if _RULE.match(line) and _header_follows(lines, i + 1):
            return i, (i + 1 if forwarded_subject else None)
        if re.match(r"^\s*\*?From\s*:", line, re.IGNORECASE) and _header_follows(lines, i):
            return i, (i if forwarded_subject else None)
    return len(lines), None


def _header_follows(lines: list[str], start: int) -> bool:
    """An Outlook header block: From: then Sent:/Date: within the next few lines."""
    window = [ln for ln in lines[start : start + 6] if ln.strip()]
    if not window or not re.match(r"^\s*\*?From\s*:", window[0], re.IGNORECASE):
        return False
    return any(re.match(r"^\s*\*?(Sent|Date)\s*:", ln, re.IGNORECASE) for ln in window[1:5])


def _skip_header_block(lines: list[str]) -> list[str]:
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    while i < len(lines) and (
        _HEADER_LINE.match(lines[i]) or (lines[i].startswith((" ", "\t")) and lines[i].strip())
    ):
        i += 1
    return lines[i:]


def _strip_tail(lines: list[str], sender_names: tuple[str, ...]) -> tuple[str, str]:
    """Remove the disclaimer, then the signature; return (text, signature)."""
    end = len(lines)
    for i, line in enumerate(lines):
        if _SIG_DASHES.match(line) or _SENT_FROM.match(line):
            end = i
            break
        if _is_disclaimer_start(lines, i):
            end = i
            break
    body = lines[:end]
    sig_start = _signature_start(body, sender_names)
    text = "\n".join(body[:sig_start]).strip()
    signature = "\n".join(body[sig_start:]).strip()
    return text, signature


def _is_disclaimer_start(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _SEPARATOR.match(line):
        paragraph = _paragraph(lines, i + 1)
    elif i == 0 or not lines[i - 1].strip():
        paragraph = _paragraph(lines, i)
    else:
        return False
    hits = sum(word in paragraph for word in _DISCLAIMER_WORDS)
    return hits >= 3 or (hits >= 2 and _SEPARATOR.match(line) is not None)


def _paragraph(lines: list[str], start: int) -> str:
    """The lines from `start` to the next blank line (at most eight), lower-cased."""
    out: list[str] = []
    for line in lines[start : start + 8]:
        if not line.strip() and out:
            break
        out.append(line)
    return " ".join(out).lower()


def _signature_start(lines: list[str], sender_names: tuple[str, ...]) -> int:
    """The line where the sign-off begins: a valediction, or the sender's own name alone
    on a line opening a paragraph, in the last MAX_SIGNATURE_LINES non-empty lines."""
    filled = [i for i, ln in enumerate(lines) if ln.strip()]
    tail = filled[-MAX_SIGNATURE_LINES:]
    names = {n.lower() for n in sender_names if n}
    for i in tail:
        if i == filled[0]:
            continue
        line = lines[i].strip()
        if _VALEDICTION.match(line) and len(line) <= 60:
            return i
        bare = re.sub(r"^(dr|mr|mrs|ms|miss|mx|prof)\.?\s+", "", line.rstrip(",.!").lower())
        if names and bare in names and (i == 0 or not lines[i - 1].strip()):
            return i  # the name opens its own paragraph; after a label it is a value
    return len(lines)


def is_forward_subject(subject: str) -> bool:
    return bool(_FORWARD_SUBJECT.match(subject))
