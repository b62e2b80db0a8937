"""Phone numbers: parsing, the mobile-only rule, E.164 storage and masking."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_MAX_INPUT = 32


class PhoneNumberInvalid(ValueError):
    """The text is not a valid mobile number; the message says why, for the user."""


def parse_mobile(raw: str, default_region: str) -> str:
    """Return the number in E.164 if it is a valid mobile number.

    Numbers without a country code are read in ``default_region`` (so in IL
    0508464336 and +972508464336 are the same number).
    """
    if len(raw) > _MAX_INPUT:
        raise PhoneNumberInvalid("Too long to be a phone number.")
    try:
        number = phonenumbers.parse(raw, default_region)
    except NumberParseException:
        raise PhoneNumberInvalid("Not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberInvalid("Not a valid phone number.")
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise PhoneNumberInvalid("Must be a mobile number that can receive SMS.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_sendable(raw: str, default_region: str, allowed_regions: frozenset[str]) -> str:
    """``parse_mobile``, and the number must be in a country codes may be sent to
    (SFA_SMS_ALLOWED_REGIONS): the rule of registration and of a new number alike."""
    e164 = parse_mobile(raw, default_region)
    if region(e164) not in allowed_regions:
        allowed = ", ".join(sorted(allowed_regions))
        raise PhoneNumberInvalid(
            f"Codes cannot be sent by SMS to this country (only to: {allowed})."
        )
    return e164


def mask(e164: str) -> str:
    """Show the country code and the last four digits only: +972*****4336."""
    number = phonenumbers.parse(e164, None)
    prefix = f"+{number.country_code}"
    digits = e164[len(prefix) :]
    visible = 4 if len(digits) > 6 else 2
    return prefix + "*" * (len(digits) - visible) + digits[-visible:]


def region(e164: str) -> str:
    """The ISO 3166 region of a stored number ("IL"), or "ZZ" when unknown."""
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or "ZZ"
