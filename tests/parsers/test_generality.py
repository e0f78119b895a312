"""Our own e-mails beyond the corpus (phrasings, label typos, layouts, replies, forwards,
charsets), each with a gold JSON in the corpus format; every one must parse exactly."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pcse_intake.parsers import parse

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
