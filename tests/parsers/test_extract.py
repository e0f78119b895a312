"""extract.py, labelled.py, prose.py: parties from labels, sections, composites and prose."""

from __future__ import annotations

from pcse_intake.parsers.extract import extract
from pcse_intake.parsers.model import Contact, Party, RequestKind


def test_composite_value_is_split_into_fields() -> None:
    text = "Existing: Kingsholm Surgery, L84 502, 3 Kingsholm Road, Bristol, BS2 9QT, 0117 496 0815"
    parties = extract(RequestKind.MAIN_CONTACT_EXTENSION, text, "", None)
    assert parties["existing_practice"] == Party(
        name="Kingsholm Surgery",
        ods_code="L84502",
        address="3 Kingsholm Road, Bristol, BS2 9QT",
        phone="+441174960815",
    )


def test_sections_route_unlabelled_lines_to_their_party() -> None:
    text = (
        "Main practice: Hillside Surgery (GP), N81 790\n"
        "6 Hill Road, Leeds, LS2 5NR - 0113 496 0788\n\n"
        "Branch: Gate Surgery, N81 790 001\n2 Vale Road, Leeds, LS5 2PA"
    )
    parties = extract(RequestKind.BRANCH_SETUP, text, "", None)
    assert parties["main_practice"].address == "6 Hill Road, Leeds, LS2 5NR"
    assert parties["main_practice"].org_type == "gp"
    assert parties["branch"].address == "2 Vale Road, Leeds, LS5 2PA"


def test_prose_gives_each_fact_to_the_practice_it_follows() -> None:
    text = (
        "I'm Dr Ann Bell (ann.bell@nhs.net), main contact for Hart Dental, V061588, based at "
        "15 Hart Road, Sheffield, S11 8PB (0114 496 0744). We've just opened Pen Dental, "
        "V073599, at 2 Pen Terrace, Sheffield, S10 2HX."
    )
    parties = extract(RequestKind.MAIN_CONTACT_EXTENSION, text, "", None)
    assert parties["existing_practice"].main_contact == Contact("Dr Ann Bell", "ann.bell@nhs.net")
    assert parties["existing_practice"].phone == "+441144960744"
    assert parties["new_practice"] == Party(
        name="Pen Dental", ods_code="V073599", address="2 Pen Terrace, Sheffield, S10 2HX"
    )


def test_from_and_to_decide_current_and_new_addresses() -> None:
    text = "We currently use a.mc@nhs.net but would like everything sent to a.reception@nhs.net."
    practice = extract(RequestKind.EMAIL_CHANGE, text, "", None)["practice"]
    assert (practice.current_email, practice.new_email) == ("a.mc@nhs.net", "a.reception@nhs.net")


def test_old_codes_are_not_taken() -> None:
    text = "We merged with Stech Surgery (its old code was M86 622); its new code is M86 705 001."
    parties = extract(RequestKind.BRANCH_SETUP, text, "", None)
    assert parties["branch"].ods_code == "M86705001"


def test_signature_only_names_who_we_are() -> None:
    signature = "Kind regards\nJane Doe\nPractice Manager\nGreenlane Surgery\n0113 496 0000"
    text = "Please change our practice email from g.surgery@nhs.net to g.team@nhs.net. Code A12345."
    practice = extract(RequestKind.EMAIL_CHANGE, text, "", None, signature)["practice"]
    assert practice.name == "Greenlane Surgery"
    assert practice.phone is None


def test_unknown_kind_has_no_parties() -> None:
    assert extract(RequestKind.UNKNOWN, "Practice code: A12345", "", None) == {}


def test_organisation_names_keep_articles_apostrophes_and_ampersands() -> None:
    for name in ("The Old Forge Surgery", "St Mary's Surgery", "Smith & Jones Medical Practice"):
        text = (
            f"We're {name} (G84775). Please stop using a.practice@nhs.net and use a.office@nhs.net."
        )
        assert extract(RequestKind.EMAIL_CHANGE, text, "", None)["practice"].name == name
