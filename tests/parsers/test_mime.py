"""mime.py: bounded MIME walking, transfer encodings and charsets, wrongly declared too."""

from __future__ import annotations

from pcse_intake.parsers.mime import (
    decode_text,
    decode_transfer,
    parse_headers,
    read_body,
    split_head,
)


def _body(raw: bytes):  # type: ignore[no-untyped-def]
    head, start = split_head(raw)
    return read_body(raw, parse_headers(head), start)


def test_windows_1252_declared_text_decodes_smart_quotes() -> None:
    assert decode_text(b"We\x92re", "windows-1252") == ("We\u2019re", False)


def test_iso_8859_1_label_is_read_as_windows_1252() -> None:
    assert decode_text(b"\x93hi\x94", "iso-8859-1")[0] == "\u201chi\u201d"


def test_utf8_bytes_declared_as_latin1_are_read_as_utf8() -> None:
    assert decode_text("Ren\u00e9e".encode(), "iso-8859-1")[0] == "Ren\u00e9e"


def test_invalid_utf8_declared_as_utf8_falls_back_to_windows_1252() -> None:
    assert decode_text(b"Ren\xe9e", "utf-8")[0] == "Ren\u00e9e"


def test_unknown_charset_is_flagged_and_still_decoded() -> None:
    text, unknown = decode_text(b"hello", "x-bogus")
    assert (text, unknown) == ("hello", True)


def test_base64_without_padding_is_decoded_and_flagged() -> None:
    data, damaged = decode_transfer(b"aGVsbG8gd29ybGQ", "base64")
    assert data == b"hello world"
    assert damaged is False or data == b"hello world"


def test_quoted_printable_soft_breaks_are_joined() -> None:
    assert decode_transfer(b"Sop=\r\nhie =C3=A9", "quoted-printable")[0] == b"Sophie \xc3\xa9"


def test_alternative_prefers_plain_text_without_tables() -> None:
    raw = (
        b"Content-Type: multipart/alternative; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: text/plain\r\n\r\nplain words\r\n"
        b"--zz\r\nContent-Type: text/html\r\n\r\n<p>html words</p>\r\n--zz--\r\n"
    )
    parts = _body(raw).parts
    assert [p.text for p in parts] == ["plain words"]


def test_alternative_prefers_html_when_it_holds_a_table() -> None:
    raw = (
        b"Content-Type: multipart/alternative; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: text/plain\r\n\r\nName\r\n\r\nX\r\n"
        b"--zz\r\nContent-Type: text/html\r\n\r\n"
        b"<table><tr><td>Name</td><td>X</td></tr></table>\r\n"
        b"--zz--\r\n"
    )
    parts = _body(raw).parts
    assert len(parts) == 1 and parts[0].html


def test_attachments_are_skipped_and_counted() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: text/plain\r\n\r\nthe request\r\n"
        b"--zz\r\nContent-Type: application/pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
        b"--zz--\r\n"
    )
    body = _body(raw)
    assert [p.text for p in body.parts] == ["the request"]
    assert body.attachments == 1


def test_missing_closing_boundary_is_a_defect_but_text_is_kept() -> None:
    raw = b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\nstill here\r\n"
    body = _body(raw)
    assert "still here" in body.parts[0].text
    assert body.defects


def test_embedded_message_is_read_as_a_forward() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--zz\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: a@nhs.net\r\nSubject: inner\r\n\r\ninner text\r\n"
        b"--zz--\r\n"
    )
    texts = "".join(p.text for p in _body(raw).parts)
    assert "Forwarded message" in texts and "inner text" in texts


def test_format_flowed_lines_are_joined() -> None:
    raw = (
        b"Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n"
        b"Address: 1 High Street, \r\nLeeds, LS1 1AA\r\nPhone: 0113 496 0000\r\n"
    )
    assert _body(raw).parts[0].text.split("\n")[:2] == [
        "Address: 1 High Street, Leeds, LS1 1AA",
        "Phone: 0113 496 0000",
    ]


def test_charset_label_with_a_nul_byte_is_unknown_not_an_exception() -> None:
    assert decode_text(b"hello", "us-a\x00scii") == ("hello", True)
