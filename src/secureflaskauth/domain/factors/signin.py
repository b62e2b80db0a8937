"""The second step of a sign-in with the method the client names (``sms`` or
``totp``), or, when it names none: the SMS code once an SMS was sent for this
sign-in, else the app's code when the account has an app, else neither (a sign-in
that started with a passkey, of an account with no app): 422 naming the methods.

A TOTP code is a code like the SMS one for every limit (codetries.py): a try is
taken from each counter before it is compared, and a wrong one, or one whose time
step was used already (a replay), is a wrong code; a right one whose step another
request of the same sign-in used a moment before lost a race, and counts nothing.
"""

from __future__ import annotations

from secureflaskauth.domain import otp
from secureflaskauth.domain.codetries import already_used
from secureflaskauth.domain.errors import SignInExpired, ValidationFailed
from secureflaskauth.domain.factors import SMS, TOTP, TOTP_AMR
from secureflaskauth.domain.factors.check import TotpCheck
from secureflaskauth.domain.models import Client
from secureflaskauth.domain.signin import SignedIn, SignIn

_NO_CODE_YET = (
    "No code was sent for this sign-in and the account has no authenticator app: "
    "finish it with one of its methods (`methods`): a passkey at /auth/webauthn/verify, "
    'or an SMS code after /auth/resend-otp with "method": "sms".'
)


class SecondStep:
    def __init__(self, *, signin: SignIn, totp: TotpCheck) -> None:
        self.signin = signin
        self.totp = totp

    def verify(self, session_id: str, code: str, client: Client, method: str | None) -> SignedIn:
        """Complete the sign-in with ``code`` by ``method`` (None: the one it started with)."""
        if (method or self.code_for(session_id, client)) == SMS:
            return self.signin.verify(session_id, code, client)
        return self._verify_totp(session_id, code, client)

    def code_for(self, session_id: str, client: Client) -> str:
        """The method whose code the sign-in waits for when the client names none:
        "sms" once an SMS was sent, else "totp" when the account has an app."""
        try:
            challenge = self.signin.live_challenge(session_id)
        except SignInExpired:
            return SMS  # answered by the SMS step, which counts the request first
        if challenge.code_hash != otp.NO_CODE:
            return SMS
        if self.totp.active(challenge.user_id) is not None:
            return TOTP
        # A sign-in started with a passkey, no SMS sent, no app: no code can be right.
        self.signin.tries.admit(client)
        user = self.signin.users.by_id(challenge.user_id)
        methods = self.signin.methods(user) if user is not None else (SMS,)
        refused = ValidationFailed({"method": [_NO_CODE_YET]})
        refused.extra["methods"] = list(methods)
        raise refused

    def _verify_totp(self, session_id: str, code: str, client: Client) -> SignedIn:
        signin = self.signin
        signin.tries.admit(client)
        if not otp.looks_like_code(code):
            raise ValidationFailed({"otp": ["Must be exactly 6 digits."]})
        user, attempt, now = signin.take_try(session_id)
        found = self.totp.matching(user.id, code, now)
        if found is None:
            signin.wrong_code(user, attempt, session_id, now, client)
        factor, step = found
        if factor.counter is not None and step <= factor.counter:
            # Its time step was used: by a request that completed this very sign-in a
            # moment ago (right, lost the race), else a replay, a wrong code.
            signin.lost_race(user, attempt)
            signin.wrong_code(user, attempt, session_id, now, client)
        # The sign-in is used up first, then the time step: of the requests of one
        # sign-in only the one that used it up uses the step, so a loser finds it used.
        signin.consume(user, attempt, now)
        if not self.totp.advance(factor, step, now):
            # Used a moment ago by another sign-in of the account: right, lost the race.
            signin.tries.right(user)
            raise already_used()
        signin.tries.right(user)
        return signin.open_session(
            user,
            client,
            TOTP_AMR,
            method=TOTP,
            sms_sent=attempt.challenge.code_hash != otp.NO_CODE,
        )
