"""One-time codes sent by SMS: generation, keyed hashing and the rules of a challenge."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

CODE_DIGITS = 6
_CODE = re.compile(r"^[0-9]{6}$")
# The code hash of a challenge no SMS code was sent for (the sign-in started with an
# authenticator app): no code's HMAC is ever equal to it.
NO_CODE = "none"


@dataclass(frozen=True)
class OtpPolicy:
    """Limits of one login transaction and of an account (NIST SP 800-63B-4 3.1.3, 3.2.2);
    the values, their defaults and bounds are the settings' (OtpSettings)."""

    ttl_seconds: int
    max_attempts: int
    resend_cooldown_seconds: int
    max_resends: int
    account_max_failures: int
    account_lock_seconds: int


def new_code() -> str:
    """Six decimal digits from the CSPRNG, leading zeros kept (NIST SP 800-63B-4 3.1.3.2)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def looks_like_code(text: str) -> bool:
    return bool(_CODE.fullmatch(text))  # fullmatch: "$" alone accepts a trailing newline


def new_session_id() -> str:
    """256 random bits, URL-safe (ASVS 7.2.3 asks for at least 128)."""
    return secrets.token_urlsafe(32)


def challenge_id(session_id: str) -> str:
    """The stored key of a challenge: a hash of the session id, never the id itself."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def code_hash(key: bytes, challenge: str, code: str) -> str:
    """HMAC-SHA256 over the challenge and the code: a database dump alone cannot
    brute-force the million possible codes (OWASP MFA CS, "Hashing OTPs")."""
    return hmac.new(key, f"{challenge}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(key: bytes, challenge: str, code: str, stored_hash: str) -> bool:
    # ASVS 11.2.4: constant-time comparison.
    return hmac.compare_digest(code_hash(key, challenge, code), stored_hash)


DEFAULT_SMS_TEMPLATE = "{app} code: {code}. Expires in {minutes} min. Never share it."
SMS_PLACEHOLDERS = frozenset({"app", "code", "minutes"})
MAX_TEMPLATE_CHARS = 300
# A host name as WebOTP reads it: lower-case labels, no scheme, port or path.
_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def check_sms_template(template: str) -> str:
    """The template if it uses only {app}, {code} (required) and {minutes}; else ValueError.

    Plain ``str.format`` fields only: no attribute access, index, conversion or format
    spec, so a template can print the three values and nothing else.
    """
    if len(template) > MAX_TEMPLATE_CHARS:
        raise ValueError(f"the SMS template is longer than {MAX_TEMPLATE_CHARS} characters")
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"the SMS template is not a valid format string: {exc}") from None
    names = [name for _, name, _, _ in fields if name is not None]
    for _, name, spec, conversion in fields:
        if name is not None and name not in SMS_PLACEHOLDERS:
            raise ValueError(
                f"the SMS template may use only {{app}}, {{code}} and {{minutes}}, not {{{name}}}"
            )
        if spec or conversion:
            raise ValueError(f"the SMS template's {{{name}}} takes no conversion or format spec")
    if "code" not in names:
        raise ValueError("the SMS template must contain {code}")
    return template


def check_webotp_host(host: str) -> str:
    """The host in lower case if it is a bare host name (``auth.example.com``); else ValueError."""
    host = host.strip().lower()
    if not _HOST.match(host):
        raise ValueError(f"not a host name (no scheme, port or path): {host!r}")
    return host


@dataclass(frozen=True)
class SmsTemplate:
    """The text of a code message.

    With ``webotp_host`` the message ends with the origin-bound line ``@host #code``
    (WebOTP, https://wicg.github.io/web-otp/; the format is the "origin-bound one-time
    code" of https://wicg.github.io/sms-one-time-codes/): the browser on that host, and
    the phone's keyboard, offer to fill the code in, and only on that host.
    """

    text: str = DEFAULT_SMS_TEMPLATE
    webotp_host: str | None = None

    def __post_init__(self) -> None:
        check_sms_template(self.text)
        if self.webotp_host is not None:
            object.__setattr__(self, "webotp_host", check_webotp_host(self.webotp_host))

    def render(self, app_name: str, code: str, ttl_seconds: int) -> str:
        minutes = max(1, ttl_seconds // 60)
        text = self.text.format(app=app_name, code=code, minutes=minutes)
        if self.webotp_host:
            # The spec wants the origin-bound line last; the blank line keeps it apart.
            text = f"{text}\n\n@{self.webotp_host} #{code}"
        return text
