"""What a signed-in user does with their own account: read it, change the password,
delete it. Every change asks for the password again (ASVS 6.2.3, 7.5.1), and the
strongest factor where the account has a stronger one than its phone (reauth.py): an
access token alone, stolen or left on a shared machine, changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from secureflaskauth.domain import phones
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.errors import InvalidToken, ValidationFailed, WrongPassword
from secureflaskauth.domain.models import Client, User
from secureflaskauth.domain.notices import Notices
from secureflaskauth.domain.passwords import PasswordHasher, PasswordPolicy
from secureflaskauth.domain.passwords.policy import normalise as normalise_password
from secureflaskauth.domain.ports import ChallengeStore, Clock, RevocationList, UserStore
from secureflaskauth.domain.reauth import PASSWORD_ONLY, Proof, StepUp
from secureflaskauth.domain.recovery import RecoveryCodes
from secureflaskauth.domain.sessions import Sessions


@dataclass(frozen=True)
class Profile:
    """The account as its owner sees it: the number masked, no secret."""

    user_id: str
    username: str
    phone_number: str
    phone_verified: bool
    factors: tuple[str, ...]
    created_at: float


class OwnAccount:
    def __init__(
        self,
        *,
        users: UserStore,
        challenges: ChallengeStore,
        sessions: Sessions,
        revocations: RevocationList,
        hasher: PasswordHasher,
        password_policy: PasswordPolicy,
        step_up: StepUp,
        notices: Notices,
        recovery: RecoveryCodes,
        audit: Audit,
        clock: Clock,
        factor_types: Callable[[User], tuple[str, ...]] | None = None,
    ) -> None:
        self.factor_types = factor_types
        self.users = users
        self.challenges = challenges
        self.sessions = sessions
        self.revocations = revocations
        self.hasher = hasher
        self.password_policy = password_policy
        self.step_up = step_up
        self.notices = notices
        self.recovery = recovery
        self.audit = audit
        self.clock = clock

    def user(self, user_id: str) -> User:
        """The token's user; a token whose account is gone is refused as invalid."""
        user = self.users.by_id(user_id)
        if user is None:
            raise InvalidToken("no such user")
        return user

    def profile(self, user_id: str) -> Profile:
        user = self.user(user_id)
        return Profile(
            user_id=user.id,
            username=user.username,
            phone_number=phones.mask(user.phone_e164),
            phone_verified=user.phone_verified,
            factors=self.factors(user),
            created_at=user.created_at,
        )

    def factors(self, user: User) -> tuple[str, ...]:
        """The second factors the account can use; the phone is always one."""
        if self.factor_types is not None:
            return self.factor_types(user)
        if self.recovery.remaining(user.id):
            return ("sms", "recovery_codes")
        return ("sms",)

    def change_password(
        self,
        user_id: str,
        session_id: str,
        current: str,
        new: str,
        client: Client,
        proof: Proof = PASSWORD_ONLY,
    ) -> int:
        """Replace the password; every other session ends (this one stays), sign-ins in
        progress end, a notice goes to the number. Returns the sessions ended."""
        user = self.user(user_id)
        new = normalise_password(new)
        # The rules first, as at registration: a refused form costs no guess.
        if found := self.password_policy.problems(new, username_canonical=user.username_canonical):
            raise ValidationFailed({"new_password": found})
        by = self.step_up.confirm(user, current, proof, client, purpose="password change")
        now = self.clock.now()
        done = self.users.change_password(
            user.id,
            old_hash=user.password_hash,
            new_hash=self.hasher.hash(new),
            keep_session=session_id,
            now=now,
            until=self.sessions.revoked_until(now),
        )
        if done is None:  # changed by another request since it was read: check again
            raise WrongPassword()
        self.revocations.publish(done.in_force)
        # A sign-in begun with the old password waits for its code: it ends too.
        self.challenges.kill_all_for_user(user.id)
        self.audit.client_event(
            "password_changed",
            "success",
            client,
            user_id=user.id,
            username=user.username,
            detail={"sid": session_id, "sessions_ended": done.ended, "confirmed_by": by},
        )
        self.notices.send(user, "password_changed", client)
        return done.ended

    def delete(
        self, user_id: str, password: str, client: Client, proof: Proof = PASSWORD_ONLY
    ) -> int:
        """Delete the account: every session ends at once (in the same transaction as
        the deletion, with its revocation records), the account's row (username, number,
        password hash), its recovery codes and sign-ins in progress go, and its audit
        events keep the user id but nothing that names the person. The username is
        free again. Returns the sessions ended."""
        user = self.user(user_id)
        by = self.step_up.confirm(user, password, proof, client, purpose="account deletion")
        now = self.clock.now()
        done = self.users.delete(user.id, now=now, until=self.sessions.revoked_until(now))
        if done is None:
            raise InvalidToken("account deleted meanwhile")
        self.revocations.publish(done.in_force)
        self.challenges.kill_all_for_user(user.id)
        self.step_up.password.forget(user)
        self.audit.forget(user.id)
        # Recorded after the erasure, with the user id alone.
        self.audit.emit(
            "account_deleted",
            "success",
            user_id=user.id,
            detail={"by": "user", "sessions_ended": done.ended, "confirmed_by": by},
        )
        return done.ended

    def new_recovery_codes(
        self, user_id: str, password: str, client: Client, proof: Proof = PASSWORD_ONLY
    ) -> list[str]:
        """A new set of recovery codes, shown this once; earlier codes stop working."""
        user = self.user(user_id)
        by = self.step_up.confirm(user, password, proof, client, purpose="recovery codes")
        codes, dropped = self.recovery.issue(user.id)
        self.audit.client_event(
            "recovery_codes_issued",
            "success",
            client,
            user_id=user.id,
            username=user.username,
            detail={"codes": len(codes), "unused_replaced": dropped, "confirmed_by": by},
        )
        self.notices.send(user, "recovery_codes_issued", client)
        return codes
