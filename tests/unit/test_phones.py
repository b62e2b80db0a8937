"""Phone numbers: parsing in the default region, mobile only, E.164, masking."""

from __future__ import annotations

import pytest

from secureflaskauth.domain.phones import PhoneNumberInvalid, mask, parse_mobile, parse_sendable


@pytest.mark.parametrize(
    "raw",
    [
        "0508464336",
        "+972508464336",
        "050-846-4336",
        "050 846 4336",
        "(050) 846-4336",
        "+972-50-846-4336",
        "00972508464336",  # international prefix dialled from Israel
    ],
)
def test_israeli_mobile_in_any_spelling_is_one_e164_number(raw: str) -> None:
    assert parse_mobile(raw, "IL") == "+972508464336"


def test_explicit_country_code_wins_over_default_region() -> None:
    assert parse_mobile("+972508464336", "US") == "+972508464336"


def test_national_number_is_read_in_the_default_region() -> None:
    # The same digits mean a different number (or none) elsewhere.
    with pytest.raises(PhoneNumberInvalid):
        parse_mobile("0508464336", "US")


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+447400123456", "+447400123456"),  # UK mobile
        ("+33612345678", "+33612345678"),  # France mobile
        ("+4915123456789", "+4915123456789"),  # Germany mobile
        ("+14155552671", "+14155552671"),  # US: FIXED_LINE_OR_MOBILE, cannot be told apart
    ],
)
def test_other_regions_mobiles_accepted(raw: str, e164: str) -> None:
    assert parse_mobile(raw, "IL") == e164


@pytest.mark.parametrize(
    "raw",
    [
        "02-6234567",  # Jerusalem landline
        "+97226234567",
        "1-800-800-800",  # Israeli toll-free
        "+18006927753",  # US toll-free
    ],
)
def test_valid_numbers_that_are_not_mobile_refused(raw: str) -> None:
    with pytest.raises(PhoneNumberInvalid, match="mobile"):
        parse_mobile(raw, "IL")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "Not a phone number."),
        ("hello", "Not a phone number."),
        ("+", "Not a phone number."),
        ("not-a-number-at-all", "Not a phone number."),
        ("0501234567", "Not a valid phone number."),  # unassigned Israeli range
        ("050846433", "Not a valid phone number."),  # one digit short
        ("05084643366", "Not a valid phone number."),  # one digit too many
        ("+999508464336", "Not a phone number."),  # no such country code
        ("1" * 33, "Too long to be a phone number."),
        ("+972508464336" + " " * 20, "Too long to be a phone number."),
    ],
)
def test_garbage_and_invalid_numbers_refused(raw: str, reason: str) -> None:
    with pytest.raises(PhoneNumberInvalid) as caught:
        parse_mobile(raw, "IL")
    assert str(caught.value) == reason


def test_phone_number_invalid_is_a_value_error() -> None:
    assert issubclass(PhoneNumberInvalid, ValueError)


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+972508464336", "+972*****4336"),
        ("+14155552671", "+1******2671"),
        ("+447400123456", "+44******3456"),
        ("+6834002", "+683**02"),  # short national number: only two digits shown
    ],
)
def test_mask_shows_country_code_and_last_digits_only(e164: str, masked: str) -> None:
    assert mask(e164) == masked
    assert len(mask(e164)) == len(e164)


def test_parse_sendable_adds_the_country_rule() -> None:
    il = frozenset({"IL"})
    assert parse_sendable("0508464336", "IL", il) == "+972508464336"
    with pytest.raises(PhoneNumberInvalid, match=r"country \(only to: IL\)"):
        parse_sendable("+12015550123", "IL", il)
    assert parse_sendable("+12015550123", "IL", frozenset({"IL", "US"})) == "+12015550123"
    with pytest.raises(PhoneNumberInvalid, match="mobile"):
        parse_sendable("035555555", "IL", il)
