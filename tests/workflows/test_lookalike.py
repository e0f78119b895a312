"""lookalike.py: domains that read like nhs.net to a person but are not it."""

from __future__ import annotations

import pytest

from pcse_intake.workflows.lookalike import is_lookalike, skeleton


@pytest.mark.parametrize(
    "domain",
    [
        "nhs-net.co.uk",
        "nhs.net.co",
        "nhs.nett",
        "rnhs.net",  # "rn" read as "m"
        "xn--nhs-9na.net",  # an IDN
        "nhs.n\u0435t",  # Cyrillic e
        "nhs\u200b.net",  # a zero-width space
        "NHS.NET.EVIL.EXAMPLE",
    ],
)
def test_a_domain_that_reads_like_nhs_net_is_a_look_alike(domain: str) -> None:
    assert is_lookalike(domain)


@pytest.mark.parametrize("domain", ["nhs.net", "NHS.net", "nhs.uk", "gmail.com", "hscni.net"])
def test_the_real_domain_and_unrelated_ones_are_not(domain: str) -> None:
    assert not is_lookalike(domain)


def test_the_skeleton_maps_confusables_to_latin_and_drops_punctuation() -> None:
    assert skeleton("nhs.n\u0435t") == skeleton("nhs-net") == "nhsnet"
