"""normalise.py: the contract's normal forms."""

from __future__ import annotations

import pytest

from pcse_intake.parsers import normalise as nf


def test_ods_codes_lose_spaces_and_gain_upper_case() -> None:
    assert nf.find_ods("codes b83 855 and N81 790 001, fk5w1") == ["B83855", "N81790001", "FK5W1"]


def test_words_that_look_like_codes_are_not_codes() -> None:
    assert nf.find_ods("Focal Point Opticians in Lune Valley") == []


def test_uk_numbers_become_e164() -> None:
    assert nf.phone("0113 496 0682") == "+441134960682"
    assert nf.phone("+44 (0)20 7946 0759") == "+442079460759"


def test_an_invalid_number_keeps_its_digits_in_the_same_form() -> None:
    assert nf.phone("0113 496 07123") == "+4411349607123"
    assert not nf.phone_is_valid("+4411349607123")


@pytest.mark.parametrize(
    "written",
    [
        "0115 496 0123",
        "0116 496 0999",
        "01632 960123",
        "0118 496 0555",
        "0191 498 0123",
        "028 9649 6123",
        "029 2018 0123",
        "020 7946 0123",
        "07700 900123",
        "+44 (0)113 496 0682",
    ],
)
def test_ofcom_drama_ranges_are_valid_uk_numbers(written: str) -> None:
    value = nf.phone(written)
    assert value is not None and value.startswith("+44") and len(value) == 13
    assert nf.phone_is_valid(value)


@pytest.mark.parametrize(
    "written", ["0113 496 012", "0113 496 01234", "0600 123 4567", "+33 1 23 45 67 89"]
)
def test_short_long_and_foreign_numbers_stay_invalid(written: str) -> None:
    value = nf.phone(written)
    assert value is not None and not nf.phone_is_valid(value)


def test_address_over_lines_becomes_one_line_with_postcode_last() -> None:
    assert (
        nf.address("6 Hillside Green\nLiverpool\nl25  5nr")
        == "6 Hillside Green, Liverpool, L25 5NR"
    )
    assert nf.address("1 High St, LS11AA, Leeds") == "1 High St, Leeds, LS1 1AA"


def test_post_nominals_are_dropped_from_names() -> None:
    assert nf.person_name("Mr  Ravi Patel MRPharmS") == "Mr Ravi Patel"
    assert nf.person_name("Dr Sarah Jones BDS") == "Dr Sarah Jones"


def test_org_types_map_to_the_four_values() -> None:
    assert [nf.org_type(t) for t in ("GP", "Optical", "community pharmacy", "Dentist")] == [
        "gp",
        "optical",
        "pharmacy",
        "dental",
    ]


def test_masking_stars_every_phone_number_but_its_last_three_digits_and_nothing_else() -> None:
    text = "Call 0113 496 0682 or (0161) 496 0958, +441134960001; on 2026-03-02, 12 messages"
    assert nf.mask_phones(text) == (
        "Call **** *** *682 or (****) *** *958, +*********001; on 2026-03-02, 12 messages"
    )
    assert nf.mask_phones("ODS B83855, no number here") == "ODS B83855, no number here"
