"""Short replies to our question: only an unambiguous answer to a missing field is taken."""

from __future__ import annotations

from pcse_intake.workflows.reply_answers import answers

FIELDS = {"practice": {"name": "X", "ods_code": "A12345", "new_email": "x.new@nhs.net"}}


def test_one_address_for_the_one_missing_address_is_taken() -> None:
    text = "Our current practice email address is x.surgery@nhs.net."
    assert answers(["practice.current_email"], FIELDS, text, ignore=set()) == {
        "practice": {"current_email": "x.surgery@nhs.net"}
    }


def test_addresses_already_known_ours_or_the_senders_do_not_count() -> None:
    text = "Send it to x.new@nhs.net, copy me (me@nhs.net) and pcse.datamanager@nhs.net"
    ignore = {"me@nhs.net", "pcse.datamanager@nhs.net"}
    assert answers(["practice.current_email"], FIELDS, text, ignore=ignore) == {}


def test_two_candidates_are_ambiguous_and_nothing_is_taken() -> None:
    text = "It is either a@nhs.net or b@nhs.net"
    assert answers(["practice.current_email"], FIELDS, text, ignore=set()) == {}


def test_phone_numbers_and_ods_codes_are_read_in_their_normal_forms() -> None:
    missing = ["branch.phone", "branch.ods_code", "branch.address"]
    text = "The branch code is B83855002 and its number is 0113 496 0999. Address to follow."
    assert answers(missing, {}, text, ignore=set()) == {
        "branch": {"phone": "+441134960999", "ods_code": "B83855002"}
    }


def test_two_missing_addresses_cannot_be_told_apart() -> None:
    missing = ["practice.current_email", "practice.new_email"]
    assert answers(missing, {}, "old is a@nhs.net", ignore=set()) == {}
