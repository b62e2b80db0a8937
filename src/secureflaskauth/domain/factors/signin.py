"""The second step of a sign-in with the method the client names (``sms`` or
``totp``), or, when it names none, the one the sign-in started with: the app's code
when no SMS was sent, the SMS code once one was.

A TOTP code is a code like the SMS one for every limit (codetries.py): a try is
taken from each counter before it is compared, and a wrong one, or one whose time
step was used already (a replay), is a wrong code.
"""

from __future__ import annotations

from secureflaskauth.domain import otp
from secureflaskauth.domain.errors import SignInExpired, ValidationFailed
from secureflaskauth.domain.factors import SMS, TOTP, TOTP_AMR
from secureflaskauth.domain.factors.check import TotpCheck
from secureflaskauth.domain.models import Client
from secureflaskauth.domain.signin import SignedIn, SignIn


class SecondStep:
    def __init__(self, *, signin: SignIn, totp: TotpCheck) -> None:
        self.signin = signin
        self.totp = totp

    def verify(self, session_id: str, code: str, client: Client, method: str | None) -> SignedIn:
        """Complete the sign-in with ``code`` by ``method`` (None: the one it started with)."""
        if (method or self.started_with(session_id)) == SMS:
            return self.signin.verify(session_id, code, client)
        return self._verify_totp(session_id, code, client)

    def started_with(self, session_id: str) -> str:
        """The method whose code the sign-in waits for: "sms" once an SMS was sent."""
        try:
            challenge = self.signin.live_challenge(session_id)
        except SignInExpired:
            return SMS  # answered by the SMS step, which counts the request first
        return TOTP if challenge.code_hash == otp.NO_CODE else SMS

    def _verify_totp(self, session_id: str, code: str, client: Client) -> SignedIn:
        signin = self.signin
        signin.tries.admit(client)
        if not otp.looks_like_code(code):
            raise ValidationFailed({"otp": ["Must be exactly 6 digits."]})
        user, attempt, now = signin.take_try(session_id)
        if not self.totp.use(user.id, code, now):
            signin.wrong_code(user, attempt, session_id, now, client)
        signin.consume(attempt.challenge, now)
        signin.tries.right(user)
        return signin.open_session(
            user,
            client,
            TOTP_AMR,
            method=TOTP,
            sms_sent=attempt.challenge.code_hash != otp.NO_CODE,
        )
