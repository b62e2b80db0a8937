"""A new phone number: the password again (and the strongest factor, reauth.py), then
a code sent to the new number; the number changes only once that code is verified
(NIST SP 800-63B-4 4.1, binding an authenticator to an existing account; ASVS 6.3.7,
7.5.1).

The new number goes through the rules of registration (a valid mobile number, in a
country codes may be sent to) and its codes through the SMS caps of a number not yet
verified: a number typed by a signed-in user is anyone's until its code comes back,
so its sends count against the small caps pending accounts have, never against the
caps its verified owner's sign-in uses (smsguard.py).

The code counts like a sign-in code: the tries of the change, the account's code
lock and its failure delay (codetries.py). It completes a phone change only, of its
own account only: a sign-in's or a reset's code never changes a number, and a phone
change's code never signs in.

SFA_MAX_ACCOUNTS_PER_NUMBER: how many verified accounts one number may hold. It is
checked only once the right code has come back from the number (here, and at an
account's first verified code, signin.py), so the answer "this number is full" is
only ever seen by whoever receives that number's messages, who could learn it
anyway. Registration takes any valid number and a change sends its code alike
whoever holds the number, so neither tells a stranger who owns which number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from secureflaskauth.domain import otp, phones
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.codetries import expired_sign_in
from secureflaskauth.domain.errors import (
    PhoneNumberUnavailable,
    TooManyRequests,
    ValidationFailed,
)
from secureflaskauth.domain.models import Client, User
from secureflaskauth.domain.notices import Notices
from secureflaskauth.domain.ports import RevocationList
from secureflaskauth.domain.reauth import PASSWORD_ONLY, Proof, StepUp
from secureflaskauth.domain.sessions import Sessions
from secureflaskauth.domain.signin import ChallengeState, SignIn

PURPOSE = "phone-change"


class ChangedRecently(TooManyRequests):
    """The number was changed less than SFA_PHONE_CHANGE_COOLDOWN_SECONDS ago (the
    API's 429 ``too-many-requests``, told apart for the pages' words)."""

    def __init__(self, wait: float) -> None:
        super().__init__(
            "The phone number was changed recently; it can be changed again later.",
            retry_after=math.ceil(wait),
        )


@dataclass(frozen=True)
class OperatorChange:
    """What ``users set-phone`` did: the new number (E.164), the sessions ended, and
    whether the notice reached the old number."""

    number: str
    sessions_ended: int
    noticed: bool


class PhoneChange:
    def __init__(
        self,
        *,
        signin: SignIn,
        step_up: StepUp,
        sessions: Sessions,
        revocations: RevocationList,
        notices: Notices,
        audit: Audit,
        default_region: str,
        sms_regions: frozenset[str],
        cooldown_seconds: int,
        max_accounts_per_number: int,
    ) -> None:
        self.signin = signin
        self.users = signin.users
        self.step_up = step_up
        self.sessions = sessions
        self.revocations = revocations
        self.notices = notices
        self.audit = audit
        self.default_region = default_region
        self.sms_regions = sms_regions
        self.cooldown_seconds = cooldown_seconds
        self.max_accounts = max_accounts_per_number

    def new_number(self, raw: str, current: str) -> str:
        """The number in E.164 if registration would take it and it is not ``current``;
        else 422 naming ``phone_number``."""
        try:
            e164 = phones.parse_sendable(raw, self.default_region, self.sms_regions)
        except phones.PhoneNumberInvalid as exc:
            raise ValidationFailed({"phone_number": [str(exc)]}) from None
        if e164 == current:
            raise ValidationFailed({"phone_number": ["This is already the account's number."]})
        return e164

    def start(
        self,
        user: User,
        password: str,
        phone_number: str,
        client: Client,
        proof: Proof = PASSWORD_ONLY,
    ) -> ChallengeState:
        """Check the number, the password and the strongest factor (reauth.py), then
        send a code to the new number."""
        new = self.new_number(phone_number, user.phone_e164)  # a refused form costs no guess
        now = self.signin.clock.now()
        self._cooldown(user, now)
        by = self.step_up.confirm(user, password, proof, client, purpose="phone change")
        if user.otp_locked_until is not None and user.otp_locked_until > now:
            raise TooManyRequests(
                "Too many wrong codes for this account. Please wait before trying again.",
                retry_after=math.ceil(user.otp_locked_until - now),
            )
        state = self.signin.start_challenge(user, now, client, purpose=PURPOSE, send_to=new)
        self.audit.client_event(
            "phone_change_requested",
            "sent",
            client,
            user_id=user.id,
            username=user.username,
            detail={
                "new_number": phones.mask(new),
                "country": phones.region(new),
                "confirmed_by": by,
            },
        )
        return state

    def _cooldown(self, user: User, now: float) -> None:
        """429 until SFA_PHONE_CHANGE_COOLDOWN_SECONDS have passed since the last change:
        whoever holds a session cannot move the account from number to number."""
        if user.phone_changed_at is None:
            return
        wait = user.phone_changed_at + self.cooldown_seconds - now
        if wait > 0:
            raise ChangedRecently(wait)

    def verify(self, user: User, keep_sid: str, session_id: str, code: str, client: Client) -> int:
        """Complete the change with the code sent to the new number: it replaces the old
        one, verified; every session of the user but ``keep_sid`` (the token's) ends; a
        notice goes to the old number. Returns the sessions ended."""
        signin = self.signin
        signin.tries.admit(client)
        if not otp.looks_like_code(code):
            raise ValidationFailed({"otp": ["Must be exactly 6 digits."]})
        # Another account's change is none of this one's business: refused before a try
        # is taken, so its owner's counters are not touched.
        if signin.live_challenge(session_id, PURPOSE).user_id != user.id:
            raise expired_sign_in()
        user, attempt, now = signin.take_try(session_id, PURPOSE)
        taken = attempt.challenge
        if not signin.code_matches(taken, code):
            signin.wrong_code(user, attempt, session_id, now, client)
        signin.consume(user, attempt, now)
        signin.tries.right(user)
        assert taken.send_to is not None  # every phone change's challenge has one
        try:
            done = self.users.change_phone(
                user.id,
                old_phone=user.phone_e164,
                new_phone=taken.send_to,
                changed_by=now - self.cooldown_seconds,
                max_accounts=self.max_accounts,
                keep_session=keep_sid,
                now=now,
                until=self.sessions.revoked_until(now),
            )
        except PhoneNumberUnavailable:
            self.audit.client_event(
                "phone_refused", "max_accounts", client, user_id=user.id, username=user.username
            )
            raise
        if done is None:  # the number changed since the code was sent
            raise expired_sign_in()
        self.revocations.publish(done.in_force)
        # Codes in flight went to the old number: none of them may complete anything now.
        signin.challenges.kill_all_for_user(user.id)
        signin.sms_guard.verified()
        self.audit.client_event(
            "phone_changed",
            "success",
            client,
            user_id=user.id,
            username=user.username,
            detail={
                "sid": keep_sid,
                "sessions_ended": done.ended,
                "old_number": phones.mask(user.phone_e164),
                "new_number": phones.mask(taken.send_to),
                "by": "user",
            },
        )
        # To the number that was the account's: if someone else made the change, its
        # owner hears of it there (the new number is the one who made it).
        self.notices.send(user, "phone_changed", client, new=phones.mask(taken.send_to))
        return done.ended

    def set_by_operator(
        self, user: User, raw: str, client: Client, *, by: str
    ) -> OperatorChange | None:
        """An operator's replacement of the number (``users set-phone``), after checking
        the person's identity out of band: the rules of registration for the number,
        which counts as verified; every session ends, codes in flight die, a notice goes
        to the old number. No cooldown and no SFA_MAX_ACCOUNTS_PER_NUMBER: the operator
        decides. None when the account's number changed or the account went while this
        ran."""
        new = self.new_number(raw, user.phone_e164)
        now = self.signin.clock.now()
        done = self.users.change_phone(
            user.id,
            old_phone=user.phone_e164,
            new_phone=new,
            changed_by=now,
            max_accounts=0,
            keep_session=None,
            now=now,
            until=self.sessions.revoked_until(now),
        )
        if done is None:
            return None
        self.revocations.publish(done.in_force)
        self.signin.challenges.kill_all_for_user(user.id)
        self.audit.emit(
            "admin_action",
            "success",
            user_id=user.id,
            username=user.username,
            detail={
                "action": "set-phone",
                "by": by,
                "sessions_ended": done.ended,
                "old_number": phones.mask(user.phone_e164),
                "new_number": phones.mask(new),
            },
        )
        noticed = self.notices.send(user, "phone_changed", client, new=phones.mask(new))
        return OperatorChange(new, done.ended, noticed)
