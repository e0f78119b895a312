"""The public corpus scored in process, with the scorer's normalising and metrics."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pcse_intake.parsers import parse

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"
EMAIL_LEAVES = {"email", "current_email", "new_email"}
QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "}
)


def _norm(path: str, value: Any) -> str:
    if not isinstance(value, str):
        value = json.dumps(value)
    leaf = path.rsplit(".", 1)[-1]
    folded = unicodedata.normalize("NFKC", value).translate(QUOTES)
    if leaf == "ods_code":
        return re.sub(r"\s+", "", value).upper()
    if leaf in EMAIL_LEAVES:
        return value.strip().lower()
    if leaf == "phone":
        digits = re.sub(r"\D", "", value)
        return "44" + digits[1:] if digits.startswith("0") else digits
    if leaf == "address":
        return re.sub(r"[^a-z0-9]", "", folded.lower())
    if leaf == "name":
        return " ".join(folded.split()).casefold()
    return " ".join(folded.split()).strip().lower()


def _leaves(obj: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in obj.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(_leaves(value, path))
        elif value is not None:
            out[path] = _norm(path, value)
    return out


def _prf(tp: int, fp: int, fn: int) -> float:
    p = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    r = tp / (tp + fn) if tp + fn else (1.0 if fp == 0 else 0.0)
    return 2 * p * r / (p + r) if p + r else 0.0


def _score() -> tuple[dict[str, float], list[str]]:
    cases = sorted(CORPUS.glob("*.eml"))
    kind_ok = exact = tp = fp = fn = ptp = pfp = pfn = 0
    failures: list[str] = []
    for eml in cases:
        gold = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))
        pred = parse(eml.read_bytes()).to_json()
        g, p = _leaves(gold["request"]), _leaves(pred["request"])
        for path in set(g) | set(p):
            if path in g and path in p:
                if g[path] == p[path]:
                    tp += 1
                else:
                    fp, fn = fp + 1, fn + 1
            elif path in g:
                fn += 1
            else:
                fp += 1
        ok_kind = gold["kind"] == pred["kind"]
        kind_ok += ok_kind
        case_exact = ok_kind and g == p and set(gold["missing"]) == set(pred["missing"])
        exact += case_exact
        gp = Counter((x["code"], x["field"]) for x in gold["problems"])
        pp = Counter((x["code"], x["field"]) for x in pred["problems"])
        ptp += sum((gp & pp).values())
        pfp += sum((pp - gp).values())
        pfn += sum((gp - pp).values())
        if not case_exact or gp != pp:
            failures.append(eml.stem)
    n = len(cases)
    metrics = {
        "kind_acc": kind_ok / n,
        "field_f1": _prf(tp, fp, fn),
        "exact": exact / n,
        "problems_f1": _prf(ptp, pfp, pfn),
    }
    return metrics, failures


@pytest.fixture(scope="module")
def corpus_score() -> tuple[dict[str, float], list[str]]:
    assert len(list(CORPUS.glob("*.eml"))) >= 40
    return _score()


def test_corpus_kind_accuracy_is_perfect(corpus_score: tuple[dict[str, float], list[str]]) -> None:
    metrics, failures = corpus_score
    assert metrics["kind_acc"] == 1.0, failures


def test_corpus_field_f1_reaches_098(corpus_score: tuple[dict[str, float], list[str]]) -> None:
    metrics, failures = corpus_score
    assert metrics["field_f1"] >= 0.98, (metrics, failures)


def test_corpus_exact_rate_reaches_095(corpus_score: tuple[dict[str, float], list[str]]) -> None:
    metrics, failures = corpus_score
    assert metrics["exact"] >= 0.95, (metrics, failures)


def test_corpus_problems_f1_reaches_095(corpus_score: tuple[dict[str, float], list[str]]) -> None:
    metrics, failures = corpus_score
    assert metrics["problems_f1"] >= 0.95, (metrics, failures)


def test_corpus_kinds_hold_when_the_subject_says_nothing() -> None:
    """The body's own wording and layout carry the kind, not the subject line alone."""
    wrong = []
    for eml in sorted(CORPUS.glob("*.eml")):
        gold = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))
        raw = re.sub(rb"(?m)^Subject: .*(\r\n[ \t].*)*", b"Subject: (no subject)", eml.read_bytes())
        if parse(raw).kind.value != gold["kind"]:
            wrong.append(eml.stem)
    assert wrong == []
