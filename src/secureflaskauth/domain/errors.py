"""One exception tree for the domain; the web layer maps it to problem+json in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the domain raises on purpose.

    ``status`` is the HTTP status the web layer answers with; ``slug`` names the
    problem type; ``extra`` holds members added to the problem body and
    ``retry_after`` (seconds) becomes a Retry-After header.
    """

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = extra or {}
        self.retry_after = retry_after


class ValidationFailed(DomainError):
    """One or more fields broke a rule; ``errors`` maps field name to messages."""

    status = 422
    slug = "validation-error"
    title = "Invalid request"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("One or more fields are invalid.", extra={"errors": errors})
        self.errors = errors


class UsernameTaken(DomainError):
    status = 409
    slug = "username-taken"
    title = "Username taken"


class InvalidCredentials(DomainError):
    """Unknown user, wrong password and disabled account all look like this (ASVS 6.3.8)."""

    status = 401
    slug = "invalid-credentials"
    title = "Invalid credentials"

    def __init__(self) -> None:
        super().__init__("The username or password is incorrect.")


class ChallengeFailed(DomainError):
    """A one-time code was wrong, or the challenge can no longer be used."""

    status = 401
    slug = "invalid-otp"
    title = "Invalid one-time code"


class SignInExpired(ChallengeFailed):
    """The sign-in is over (expired, used, out of tries, or unknown): no code or resend
    can complete it; the client starts again with the password."""

    slug = "sign-in-expired"
    title = "Sign-in expired"


class TooManyRequests(DomainError):
    status = 429
    slug = "too-many-requests"
    title = "Too many requests"


class SmsDeliveryFailed(DomainError):
    status = 502
    slug = "sms-delivery-failed"
    title = "SMS delivery failed"

    def __init__(self) -> None:
        super().__init__("The one-time code could not be sent. Please try again later.")


class InvalidToken(DomainError):
    """Any problem with a bearer token; the reason is logged, never returned (RFC 6750 3.1)."""

    status = 401
    slug = "invalid-token"
    title = "Invalid token"

    def __init__(self, reason: str) -> None:
        super().__init__("The access token is missing, invalid or expired.")
        self.reason = reason


class StoreUnavailable(DomainError):
    """A backing store did not answer; fail closed."""

    status = 503
    slug = "store-unavailable"
    title = "Service unavailable"

    def __init__(self, store: str, cause: str = "") -> None:
        super().__init__("A backing store is unavailable. Please retry shortly.", retry_after=5)
        self.store = store
        # For the log line only, never the answer: what the store said, no values.
        self.cause = cause


class SmsProviderError(Exception):
    """Raised by an SMS sender when the provider refused or could not be reached.

    Not a DomainError: the sign-in flow turns it into SmsDeliveryFailed after cleaning up.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ConfigurationError(Exception):
    """The settings are unsafe or inconsistent; raised at start-up with a one-line reason."""


class WrongPassword(DomainError):
    """The password asked again before a change to the account was wrong."""

    status = 401
    slug = "wrong-password"
    title = "Wrong password"

    def __init__(self) -> None:
        super().__init__("The password is incorrect.")


class PasswordResetRequired(DomainError):
    """An operator required a new password (`users reset-password`). Only told after
    the right password: a wrong one gets the answer of any wrong password (ASVS 6.3.8),
    so this says nothing to someone who does not know it."""

    status = 403
    slug = "password-reset-required"
    title = "Password reset required"

    def __init__(self) -> None:
        super().__init__(
            "This password no longer signs in: reset it with a code sent to your "
            "phone (POST /auth/password/forgot)."
        )


class PhoneNumberUnavailable(DomainError):
    """The number already belongs to as many verified accounts as one number may
    (SFA_MAX_ACCOUNTS_PER_NUMBER). Told only after a right code sent to that number,
    so only whoever receives its messages ever learns it (phonechange.py)."""

    status = 409
    slug = "phone-number-unavailable"
    title = "Phone number unavailable"

    def __init__(self) -> None:
        super().__init__(
            "This number already belongs to as many accounts as one number may. "
            "Please use another number."
        )
