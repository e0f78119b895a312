"""validate.py and personal.py: problem codes and missing paths."""

from __future__ import annotations

from pcse_intake.parsers.model import Contact, Party, RequestKind
from pcse_intake.parsers.personal import looks_personal
from pcse_intake.parsers.validate import missing, problems


def _codes(kind: RequestKind, parties: dict[str, Party]) -> set[tuple[str, str | None]]:
    return {(p.code, p.field) for p in problems(kind, parties)}


def test_code_matching_no_pattern_is_invalid_only() -> None:
    found = _codes(RequestKind.EMAIL_CHANGE, {"practice": Party(ods_code="M8213", org_type="gp")})
    assert found == {("invalid_ods_code", "practice.ods_code")}


def test_gp_code_for_a_pharmacy_is_a_type_mismatch() -> None:
    party = Party(ods_code="M84521", org_type="pharmacy")
    assert _codes(RequestKind.NEW_PRACTICE_SETUP, {"new_practice": party}) == {
        ("ods_code_type_mismatch", "new_practice.ods_code")
    }


def test_branch_code_must_extend_the_main_code() -> None:
    parties = {"main_practice": Party(ods_code="J84550"), "branch": Party(ods_code="J84505001")}
    assert ("branch_code_mismatch", "branch.ods_code") in _codes(RequestKind.BRANCH_SETUP, parties)
    parties["branch"] = Party(ods_code="J84550001")
    assert _codes(RequestKind.BRANCH_SETUP, parties) == set()


def test_practice_addresses_must_be_valid_nhs_net_organisation_mailboxes() -> None:
    party = Party(current_email="a.surgery@nhs.net", new_email="x@hotmail.co.uk")
    assert _codes(RequestKind.EMAIL_CHANGE, {"practice": party}) == {
        ("not_nhsmail", "practice.new_email")
    }
    party = Party(new_email="chapelfield.surgery.@nhs.net")
    assert _codes(RequestKind.EMAIL_CHANGE, {"practice": party}) == {
        ("invalid_email", "practice.new_email")
    }
    party = Party(new_email="olivia.hartley@nhs.net")
    assert _codes(RequestKind.EMAIL_CHANGE, {"practice": party}) == {
        ("personal_nhsmail", "practice.new_email")
    }


def test_personal_judgement_uses_names_org_words_and_codes() -> None:
    assert looks_personal("sarah.jones12@nhs.net")
    assert looks_personal("j.smith@nhs.net")
    assert not looks_personal("greenlane.admin@nhs.net")
    assert not looks_personal("whinmoorsurgery.admin@nhs.net")
    assert not looks_personal("a84615.ouseburn@nhs.net")
    assert not looks_personal("georgestreet@nhs.net")


def test_invalid_phone_is_reported_on_its_path() -> None:
    party = Party(phone="+4411349607123")
    assert ("invalid_phone", "existing_practice.phone") in _codes(
        RequestKind.MAIN_CONTACT_EXTENSION, {"existing_practice": party}
    )


def test_missing_lists_leaf_paths_of_absent_required_fields() -> None:
    parties = {
        "existing_practice": Party(
            name="A",
            ods_code="A12345",
            address="x",
            phone="+441134960000",
            main_contact=Contact(name="Dr A"),
        ),
        "new_practice": Party(name="B", ods_code="B12345"),
    }
    assert missing(RequestKind.MAIN_CONTACT_EXTENSION, parties) == (
        "existing_practice.main_contact.email",
        "new_practice.address",
    )


def test_branch_given_a_main_practice_shaped_code_is_a_mismatch() -> None:
    parties = {"main_practice": Party(ods_code="J84550"), "branch": Party(ods_code="J84550")}
    assert _codes(RequestKind.BRANCH_SETUP, parties) == {
        ("branch_code_mismatch", "branch.ods_code")
    }


def test_branch_code_matching_no_pattern_is_only_invalid() -> None:
    parties = {"main_practice": Party(ods_code="J84550"), "branch": Party(ods_code="J8455001")}
    assert _codes(RequestKind.BRANCH_SETUP, parties) == {("invalid_ods_code", "branch.ods_code")}
