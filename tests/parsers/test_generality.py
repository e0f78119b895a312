"""Our own e-mails beyond the corpus (phrasings, label typos, layouts, replies, forwards,
charsets), each with a gold JSON in the corpus format; every one must parse exactly."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from pcse_intake.parsers import parse

from .helpers import message
from .test_corpus import _leaves

EMAILS = Path(__file__).resolve().parent / "emails"
CASES = sorted(EMAILS.glob("*.eml"))


@pytest.mark.parametrize("eml", CASES, ids=[p.stem for p in CASES])
def test_own_email_parses_exactly_as_its_gold(eml: Path) -> None:
    gold = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))
    got = parse(eml.read_bytes()).to_json()
    assert got["kind"] == gold["kind"]
    assert _leaves(got["request"]) == _leaves(gold["request"])
    assert set(got["missing"]) == set(gold["missing"])
    assert Counter((p["code"], p["field"]) for p in got["problems"]) == Counter(
        (p["code"], p["field"]) for p in gold["problems"]
    )


def test_there_are_enough_own_emails() -> None:
    assert len(CASES) >= 20


def _as_outlook_html(text: str) -> str:
    paragraphs = "".join(
        f'<p class="MsoNormal">{html.escape(line) if line else "<o:p>&nbsp;</o:p>"}</p>\n'
        for line in text.split("\n")
    )
    return f'<html><body><div class="WordSection1">\n{paragraphs}</div></body></html>'


CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"
ALL_CASES = CASES + sorted(CORPUS.glob("*.eml"))


@pytest.mark.parametrize("eml", ALL_CASES, ids=[f"{p.parent.name}/{p.stem}" for p in ALL_CASES])
def test_same_email_written_as_outlook_html_reads_the_same(eml: Path) -> None:
    plain = parse(eml.read_bytes())
    if plain.automated or not plain.full_text:
        return
    sender = f'"{plain.sender_name or ""}" <{plain.sender}>'
    raw = message(
        _as_outlook_html(plain.full_text),
        subject=plain.subject,
        sender=sender,
        content_type='text/html; charset="utf-8"',
    )
    converted = parse(raw)
    assert converted.kind == plain.kind
    assert converted.request_json() == plain.request_json()
    assert converted.missing == plain.missing


@pytest.mark.parametrize("eml", sorted(CORPUS.glob("*.eml"))[:12], ids=lambda p: p.stem)
def test_bare_lf_a_byte_order_mark_or_an_mbox_line_change_nothing(eml: Path) -> None:
    raw = eml.read_bytes()
    base = parse(raw).to_json()
    for variant in (
        raw.replace(b"\r\n", b"\n"),
        b"\xef\xbb\xbf" + raw,
        b"From someone@example.org Thu Jan  1 00:00:00 2025\r\n" + raw,
    ):
        assert parse(variant).to_json() == base


_LABEL = r"(?m)^(?!From|Sent|To|Subject|Date)([A-Za-z][^:\n]{1,60}):[ ]"
LAYOUT_VARIANTS = {
    "dash separators": lambda t: re.sub(_LABEL, r"\1 - ", t),
    "tab separators": lambda t: re.sub(_LABEL, r"\1:\t", t),
    "bullets": lambda t: re.sub(_LABEL, "\u2022 \\1: ", t),
    "lower-case labels": lambda t: re.sub(_LABEL, lambda m: m.group(1).lower() + ": ", t),
    "upper-case labels": lambda t: re.sub(_LABEL, lambda m: m.group(1).upper() + ": ", t),
}


@pytest.mark.parametrize("variant", sorted(LAYOUT_VARIANTS))
def test_label_layout_variants_read_the_same(variant: str) -> None:
    changed = []
    for eml in ALL_CASES:
        plain = parse(eml.read_bytes())
        if plain.automated or not plain.full_text:
            continue
        raw = message(
            LAYOUT_VARIANTS[variant](plain.full_text),
            subject=plain.subject,
            sender=f'"{plain.sender_name or ""}" <{plain.sender}>',
        )
        got = parse(raw)
        if (got.kind, got.request_json(), got.missing) != (
            plain.kind,
            plain.request_json(),
            plain.missing,
        ):
            changed.append(eml.stem)
    assert changed == []
