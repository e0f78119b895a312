"""Bounded MIME decoding: raw bytes to header block and text parts, with caps and defects."""

from __future__ import annotations

import binascii
import codecs
import quopri
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

# Caps that keep hostile input cheap. The walk never recurses deeper than MAX_DEPTH, never
# looks at more than MAX_PARTS parts, and never decodes more than MAX_TEXT_BYTES of one text
# part (requests are a few kilobytes; a 30 MB attachment is skipped without being decoded).
MAX_DEPTH = 20
MAX_PARTS = 200
MAX_HEADER_BYTES = 256 * 1024
MAX_TEXT_BYTES = 1024 * 1024
MAX_BOUNDARY_LEN = 200

_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_LEADING_BLANK = re.compile(rb"\r?\n")  # used with .match(raw, pos): anchored at pos
# Single-byte Western charsets as mail really uses them: browsers and mail clients read
# both us-ascii and iso-8859-1 as windows-1252 (WHATWG Encoding), so 0x80-0x9F are quotes.
_AS_WINDOWS_1252 = {"us-ascii", "ascii", "iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1"}


@dataclass(frozen=True)
class TextPart:
    """One decoded text leaf: `html` says whether `text` is still HTML markup."""

    text: str
    html: bool


@dataclass
class Body:
    """What the walk found: the text to read, and what it could not decode."""

    parts: list[TextPart] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    delivery_report: bool = False
    attachments: int = 0
    part_count: int = 0


def split_head(raw: bytes, start: int = 0, end: int | None = None) -> tuple[bytes, int]:
    """The header block of the entity in raw[start:end], and where its body begins."""
    end = len(raw) if end is None else end
    if _LEADING_BLANK.match(raw, start, end):  # no headers at all
        return b"", _LEADING_BLANK.match(raw, start, end).end()  # type: ignore[union-attr]
    found = _BLANK_LINE.search(raw, start, min(end, start + MAX_HEADER_BYTES))
    if found is None:
        stop = min(end, start + MAX_HEADER_BYTES)
        return raw[start:stop], end
    return raw[start : found.start()] + b"\n", found.end()


def parse_headers(head: bytes) -> Message:
    """The header block as a compat32 `Message` (fast; values stay undecoded)."""
    return BytesHeaderParser(policy=compat32).parsebytes(head)


def decode_text(data: bytes, declared: str | None) -> tuple[str, bool]:
    """Bytes in a declared charset to text; the flag says the charset was unknown.

    Wrongly declared text is common: valid UTF-8 with non-ASCII bytes is read as UTF-8
    whatever the label says (the odds of Western 8-bit text being valid UTF-8 are tiny),
    and text that fails its declared charset falls back to windows-1252, then latin-1.
    """
    unknown = False
    codec: str | None = None
    label = (declared or "").strip().strip("\"'").lower()
    if label in _AS_WINDOWS_1252 or not label:
        codec = "cp1252"
    else:
        try:
            if not re.fullmatch(r"[a-z0-9._:+-]{1,40}", label):
                raise LookupError(label)  # NUL bytes and junk make codecs raise ValueError
            info = codecs.lookup(label)
            codec = info.name if getattr(info, "_is_text_encoding", True) else None
        except (LookupError, ValueError, TypeError):
            codec = None
        unknown = codec is None
    if not data.isascii():
        try:
            return data.decode("utf-8"), unknown
        except UnicodeDecodeError:
            pass
    for name in (codec, "cp1252"):
        if name is None:
            continue
        try:
            return data.decode(name), unknown
        except (UnicodeDecodeError, LookupError, TypeError, ValueError):
            continue
    return data.decode("latin-1"), unknown


def decode_transfer(data: bytes, encoding: str) -> tuple[bytes, bool]:
    """Undo a Content-Transfer-Encoding; the flag says the encoding was broken."""
    encoding = encoding.strip().lower()
    if encoding == "base64":
        body = re.sub(rb"\s+", b"", data)
        compact = re.sub(rb"[^A-Za-z0-9+/]", b"", body.split(b"=", 1)[0])
        damaged = len(compact) % 4 == 1 or bool(re.search(rb"[^A-Za-z0-9+/=]", body))
        if len(compact) % 4 == 1:
            compact = compact[:-1]
        compact += b"=" * (-len(compact) % 4)
        try:
            return binascii.a2b_base64(compact), damaged
        except (binascii.Error, ValueError):
            return b"", True
    if encoding == "quoted-printable":
        return quopri.decodestring(data), False
    return data, False


class _Walker:
    """Walks one message's MIME tree over index ranges of the raw bytes (no big copies)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.body = Body()

    def walk(self, headers: Message, start: int, end: int, depth: int) -> list[TextPart]:
        body = self.body
        body.part_count += 1
        if body.part_count > MAX_PARTS:
            if "too many MIME parts" not in body.defects:
                body.defects.append("too many MIME parts")
            return []
        ctype = headers.get_content_type()
        maintype = ctype.split("/", 1)[0]
        if maintype == "multipart":
            if depth >= MAX_DEPTH:
                body.defects.append("MIME nesting too deep")
                return []
            return self._multipart(headers, ctype, start, end, depth)
        if ctype == "message/delivery-status":
            body.delivery_report = True
            return []
        if ctype == "message/rfc822":
            if depth >= MAX_DEPTH:
                body.defects.append("MIME nesting too deep")
                return []
            return self._embedded(start, end, depth)
        disposition = str(headers.get("Content-Disposition", "")).lower()
        if ctype in ("text/plain", "text/html") and not disposition.startswith("attachment"):
            return self._text(headers, ctype, start, end)
        body.attachments += 1
        return []

    def _text(self, headers: Message, ctype: str, start: int, end: int) -> list[TextPart]:
        if end - start > MAX_TEXT_BYTES:
            self.body.defects.append("text part too large; truncated")
            end = start + MAX_TEXT_BYTES
        cte = str(headers.get("Content-Transfer-Encoding", "7bit"))
        data, broken = decode_transfer(self.raw[start:end], cte)
        if broken:
            self.body.defects.append(f"damaged {cte.strip().lower()} text")
        text, unknown = decode_text(data, _charset(headers))
        if unknown:
            self.body.defects.append(f"unknown charset {_charset(headers)!r}")
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
        if ctype == "text/plain" and str(headers.get_param("format", "")).lower() == "flowed":
            delsp = str(headers.get_param("delsp", "")).lower() == "yes"
            text = unflow(text, delete_space=delsp)
        return [TextPart(text, html=ctype == "text/html")]

    def _embedded(self, start: int, end: int, depth: int) -> list[TextPart]:
        head, body_start = split_head(self.raw, start, end)
        inner = parse_headers(head)
        from pcse_intake.parsers.headers import decode_header_value  # no cycle at import

        lines = ["---------- Forwarded message ---------"]
        for name in ("From", "Date", "Subject", "To"):
            value = inner.get(name)
            if value is not None:
                lines.append(f"{name}: {decode_header_value(value)}")
        intro = TextPart("\n".join(lines) + "\n\n", html=False)
        return [intro, *self.walk(inner, body_start, end, depth + 1)]

    def _multipart(
        self, headers: Message, ctype: str, start: int, end: int, depth: int
    ) -> list[TextPart]:
        boundary = headers.get_param("boundary")
        if not isinstance(boundary, str) or not 0 < len(boundary) <= MAX_BOUNDARY_LEN:
            self.body.defects.append("multipart without a usable boundary")
            return self._text(headers, "text/plain", start, end)
        ranges, closed = split_parts(self.raw, boundary.encode("utf-8", "replace"), start, end)
        if not ranges:
            self.body.defects.append("multipart without any of its boundaries")
            return self._text(headers, "text/plain", start, end)
        if not closed:
            self.body.defects.append("multipart without its closing boundary")
        children: list[list[TextPart]] = []
        for part_start, part_end in ranges:
            head, body_start = split_head(self.raw, part_start, part_end)
            children.append(self.walk(parse_headers(head), body_start, part_end, depth + 1))
            if self.body.part_count > MAX_PARTS:
                break
        if ctype == "multipart/report":
            self.body.delivery_report = self.body.delivery_report or (
                str(headers.get_param("report-type", "")).lower() == "delivery-status"
            )
        if ctype == "multipart/alternative":
            return _best_alternative(children)
        return [part for child in children for part in child]


def _best_alternative(children: list[list[TextPart]]) -> list[TextPart]:
    """Pick one rendering: HTML when it holds a table (its layout carries the meaning:
    label/value cells, columns per practice), otherwise the plain text, otherwise any."""
    plain = next((c for c in children if c and not any(p.html for p in c)), None)
    html = next((c for c in children if c and any(p.html for p in c)), None)
    if html is not None and any(p.html and "<table" in p.text.lower() for p in html):
        return html
    return plain or html or next((c for c in children if c), [])


def split_parts(
    raw: bytes, boundary: bytes, start: int, end: int
) -> tuple[list[tuple[int, int]], bool]:
    """Index ranges of the body parts between `--boundary` lines, and whether it closed."""
    delimiter = b"--" + boundary
    positions: list[tuple[int, int, bool]] = []  # (line start, line end, is_close)
    i = raw.find(delimiter, start, end)
    while i != -1 and len(positions) <= MAX_PARTS + 1:
        after = i + len(delimiter)
        if i == start or raw[i - 1 : i] == b"\n":
            line_end = raw.find(b"\n", after, end)
            line_end = end if line_end == -1 else line_end + 1
            rest = raw[after:line_end].strip()
            if rest.startswith(b"--"):
                positions.append((i, line_end, True))
                break
            if not rest:
                positions.append((i, line_end, False))
        i = raw.find(delimiter, after, end)
    ranges: list[tuple[int, int]] = []
    if not positions:
        return ranges, False
    for (_, body_start, close), nxt in zip(
        positions, [*positions[1:], (end, end, True)], strict=True
    ):
        if close:
            break
        part_end = nxt[0]
        # the line break before a delimiter belongs to the delimiter
        if raw[part_end - 2 : part_end] == b"\r\n":
            part_end -= 2
        elif raw[part_end - 1 : part_end] == b"\n":
            part_end -= 1
        ranges.append((body_start, max(body_start, part_end)))
    closed = bool(positions) and positions[-1][2]
    return ranges, closed


def unflow(text: str, *, delete_space: bool = False) -> str:
    """Join RFC 3676 format=flowed lines: a line ending in a space continues on the next
    (quoted lines and the signature separator excepted)."""
    out: list[str] = []
    carry = ""
    for line in text.split("\n"):
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        if line.endswith(" ") and line != "-- " and not line.startswith(">"):
            carry += line[:-1] if delete_space else line
            continue
        out.append(carry + line)
        carry = ""
    if carry:
        out.append(carry)
    return "\n".join(out)


def _charset(headers: Message) -> str | None:
    value = headers.get_param("charset")
    return value if isinstance(value, str) else None


def read_body(raw: bytes, headers: Message, body_start: int) -> Body:
    """Walk the message's MIME tree and return its text parts (HTML not yet converted)."""
    walker = _Walker(raw)
    walker.body.parts = walker.walk(headers, body_start, len(raw), 0)
    return walker.body
