"""Look-alike sender domains: ones that read like nhs.net to a person but are not it."""

from __future__ import annotations

import contextlib
import unicodedata
from functools import lru_cache

from confusable_homoglyphs import confusables

TRUSTED_DOMAINS = ("nhs.net",)

# Letter runs that a reader takes for another letter (UTS #39 covers single characters only).
_RUNS = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("0", "o"), ("1", "l"))


def skeleton(domain: str) -> str:
    """A comparable form: IDNA decoded, invisible characters dropped, confusables mapped to
    their Latin look-alike, letter runs folded, dots and hyphens removed."""
    text = domain.strip().lower()
    if "xn--" in text:
        with contextlib.suppress(UnicodeError, ValueError):  # not valid IDNA: compare as is
            text = text.encode("ascii").decode("idna")
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = "".join(_latin(ch) for ch in text)
    for run, letter in _RUNS:
        text = text.replace(run, letter)
    return text.replace(".", "").replace("-", "")


def is_lookalike(domain: str) -> bool:
    """True for a domain that is not a trusted one but reads like one."""
    plain = domain.strip().lower()
    if plain in TRUSTED_DOMAINS:
        return False
    seen = skeleton(plain)
    return any(
        trusted in seen or _within_one_edit(seen, trusted)
        for trusted in (skeleton(d) for d in TRUSTED_DOMAINS)
    )


@lru_cache(maxsize=512)
def _latin(ch: str) -> str:
    if ch.isascii():
        return ch
    found = confusables.is_confusable(ch, greedy=True, preferred_aliases=["latin"])
    if found:
        for glyph in found[0]["homoglyphs"]:
            if glyph["c"].isascii():
                return str(glyph["c"]).lower()
    return ch


def _within_one_edit(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))
