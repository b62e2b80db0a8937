"""What the pages say when the domain refuses something, in the person's language.

The domain's errors keep their meaning (the same rules as the JSON API); here they get
words for a person. A field's message from the domain (ValidationFailed) is looked up
by its English text: the catalogue's msgid is that text, so English shows it as the
domain says it and another language shows its translation; a message this table does
not know is shown as the domain wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secureflaskauth.domain import recovery, usernames
from secureflaskauth.domain.errors import ChallengeFailed, DomainError, SignInExpired
from secureflaskauth.domain.factors import TOTP
from secureflaskauth.domain.factors.passkey_enrolment import MAX_PASSKEYS
from secureflaskauth.domain.resetproof import NEEDED
from secureflaskauth.web.text import gettext, lazy_gettext, ngettext

# The domain's field messages, by their English text.
FIELD_MESSAGES: Mapping[str, Any] = {
    usernames.LENGTH: lazy_gettext("Must be 8 to 64 characters long."),
    usernames.FOLDED_LENGTH: lazy_gettext(
        "Must be at most 64 characters once letter case is folded (ß counts as ss)."
    ),
    usernames.UNCOMMON: lazy_gettext(
        "May not contain phonetic or modifier letters (such as \u1d0d, \u0251 or \u02cd): "
        "they can imitate ordinary ones."
    ),
    usernames.INVISIBLE: lazy_gettext(
        "May not contain invisible, compatibility (such as ligatures) or unassigned characters."
    ),
    usernames.DIRECTION: lazy_gettext(
        "A right-to-left name must start with a right-to-left letter and may not contain "
        "left-to-right letters (RFC 5893)."
    ),
    usernames.MIXED_SCRIPTS: lazy_gettext(
        "Must be written in one script: letters of several scripts (such as a Cyrillic "
        "\u0430 among Latin letters) can imitate another name."
    ),
    usernames.LOOKS_LATIN: lazy_gettext(
        "Every letter looks like a Latin letter: the name could pass for one written in "
        "Latin letters."
    ),
    "Must be at least 8 characters long.": lazy_gettext("Must be at least 8 characters long."),
    "Must be at most 128 characters long.": lazy_gettext("Must be at most 128 characters long."),
    "Must contain only printable characters.": lazy_gettext(
        "Must contain only printable characters."
    ),
    "Is too common: it appears in lists of breached or common passwords.": lazy_gettext(
        "Is too common: it appears in lists of breached or common passwords."
    ),
    "Must not contain the username.": lazy_gettext("Must not contain the username."),
    "Too long to be a phone number.": lazy_gettext("Too long to be a phone number."),
    "Not a phone number.": lazy_gettext("Not a phone number."),
    "Not a valid phone number.": lazy_gettext("Not a valid phone number."),
    "Must be a mobile number that can receive SMS.": lazy_gettext(
        "Must be a mobile number that can receive SMS."
    ),
    "Must be exactly 6 digits.": lazy_gettext("Must be exactly 6 digits."),
    "Must be the 6-digit code the authenticator app shows.": lazy_gettext(
        "Must be the 6-digit code the authenticator app shows."
    ),
    "Wrong code: check that the device's clock is right and give the code shown now.": (
        lazy_gettext(
            "Wrong code: check that the device's clock is right and give the code shown now."
        )
    ),
    "This is already the account's number.": lazy_gettext("This is already the account's number."),
    f"The account has {MAX_PASSKEYS} passkeys: remove one first.": lazy_gettext(
        "The account has 20 passkeys: remove one first."
    ),
    "Must be the 6-digit code of the authenticator app.": lazy_gettext(
        "Must be the 6-digit code of the authenticator app."
    ),
    recovery.MALFORMED: lazy_gettext("Must be a recovery code: 8 letters and digits (xxxx-xxxx)."),
    NEEDED[TOTP]: lazy_gettext(
        "Required: this account has an authenticator app; give its code (or a recovery "
        "code) with the SMS code."
    ),
    "Required: the SMS code alone cannot reset a password.": lazy_gettext(
        "Required: the SMS code alone cannot reset a password."
    ),
}
# Messages that end with a detail of their own (a character, a list of countries):
# the known beginning is translated, the detail kept.
FIELD_PREFIXES: Mapping[str, Any] = {
    usernames.CHARACTERS: lazy_gettext("May contain only letters, digits and the characters . _ -"),
    "Codes cannot be sent by SMS to this country": lazy_gettext(
        "Codes cannot be sent by SMS to this country"
    ),
}


def ltr(text: str) -> str:
    """``text`` kept left to right inside a sentence of either direction (a phone
    number in a Hebrew sentence): Unicode's left-to-right isolate (UAX #9)."""
    return f"\u2066{text}\u2069"


def isolated(text: str) -> str:
    """``text`` in its own direction inside a sentence (a username, which may be
    written in either): Unicode's first-strong isolate (UAX #9)."""
    return f"\u2068{text}\u2069"


def field_message(message: str) -> str:
    """A domain field message in the page's language."""
    known = FIELD_MESSAGES.get(message)
    if known is not None:
        return str(known)
    for prefix, translated in FIELD_PREFIXES.items():
        if message.startswith(prefix):
            return str(translated) + message[len(prefix) :]
    return message


def duration(seconds: int) -> str:
    """A wait, as a person says it: seconds up to two minutes, minutes up to two hours,
    then hours (each rounded up: never a wait shorter than it is)."""
    if seconds < 120:
        return ngettext("%(num)d second", "%(num)d seconds", max(1, seconds))
    if seconds < 7200:
        return ngettext("%(num)d minute", "%(num)d minutes", -(-seconds // 60))
    return ngettext("%(num)d hour", "%(num)d hours", -(-seconds // 3600))


def wrong_code(error: ChallengeFailed) -> str:
    """A wrong code: what is left, or why no code can complete this any more."""
    left = error.extra.get("attempts_remaining")
    if isinstance(error, SignInExpired):
        return gettext(
            "This sign-in can no longer be completed: it expired, was already used or had "
            "too many wrong codes. Please start again."
        )
    if error.retry_after is not None:
        return gettext(
            "Too many wrong codes for this account. Please wait %(wait)s before trying again.",
            wait=duration(error.retry_after),
        )
    if isinstance(left, int) and left > 0:
        return ngettext(
            "That code is not right. You have %(num)d more try.",
            "That code is not right. You have %(num)d more tries.",
            left,
        )
    return gettext("That code is not right, and no tries are left. Please start again.")


_BY_SLUG: Mapping[str, Any] = {
    "invalid-credentials": lazy_gettext("The username or password is incorrect."),
    "sign-in-disabled": lazy_gettext(
        "Sign-in to this account is disabled after too many failed attempts. "
        "An administrator can enable it again."
    ),
    "password-reset-required": lazy_gettext(
        "This password no longer signs in: please set a new one with a code sent to your phone."
    ),
    "sms-delivery-failed": lazy_gettext(
        "The code could not be sent. Please try again in a few minutes."
    ),
    "store-unavailable": lazy_gettext("The service is busy. Please try again in a moment."),
    "phone-number-unavailable": lazy_gettext(
        "This number already belongs to as many accounts as one number may. "
        "Please use another number."
    ),
    "username-taken": lazy_gettext("That username is already taken."),
    "wrong-password": lazy_gettext("The password is not right."),
    "session-not-found": lazy_gettext("That device was signed out already."),
    "factor-not-found": lazy_gettext("That sign-in method was removed already."),
    "passkey-refused": lazy_gettext("Your passkey was not accepted. Please try again."),
}


def refusal(error: DomainError) -> str:
    """What a person reads when the service refuses a step (any DomainError but a
    field's): the same meaning as the API's problem, in the page's language."""
    if isinstance(error, ChallengeFailed) and error.slug not in _BY_SLUG:
        return wrong_code(error)  # a code's tries (a passkey alone has none)
    if error.slug == "sms-not-sent":  # one answer for every SMS cap, as the API's
        return gettext(
            "No code can be sent by SMS right now. Please try again in %(wait)s.",
            wait=duration(error.retry_after or 60),
        )
    if error.status == 429:
        if error.retry_after is not None:
            return gettext(
                "Too many attempts. Please wait %(wait)s and try again.",
                wait=duration(error.retry_after),
            )
        return gettext("Too many attempts. Please try again later.")
    known = _BY_SLUG.get(error.slug)
    return str(known) if known is not None else gettext("Something went wrong. Please try again.")


# The reset page has no passkey ceremony: where the API asks for the passkey's assertion
# (resetproof.NEEDED), the page asks for one of the account's recovery codes.
PASSKEY_RESET_NEEDS_RECOVERY_CODE = lazy_gettext(
    "Required: this account has a passkey; give one of its recovery codes with the SMS code."
)
