"""Registration: who may sign up, with which username, password and phone number."""

from __future__ import annotations

import uuid

from secureflaskauth.domain import phones, usernames
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.errors import UsernameTaken, ValidationFailed
from secureflaskauth.domain.lockout import AccountGuard
from secureflaskauth.domain.models import Client, User
from secureflaskauth.domain.passwords import PasswordHasher, PasswordPolicy
from secureflaskauth.domain.passwords.policy import normalise as normalise_password
from secureflaskauth.domain.pending import PendingAccounts
from secureflaskauth.domain.ports import Clock, UserStore
from secureflaskauth.domain.ratelimit import Throttle


class Registration:
    def __init__(
        self,
        *,
        users: UserStore,
        hasher: PasswordHasher,
        password_policy: PasswordPolicy,
        throttle: Throttle,
        audit: Audit,
        clock: Clock,
        default_region: str,
        sms_regions: frozenset[str],
        pending: PendingAccounts,
        guard: AccountGuard,
    ) -> None:
        self.pending = pending
        self.guard = guard
        self.users = users
        self.hasher = hasher
        self.password_policy = password_policy
        self.throttle = throttle
        self.audit = audit
        self.clock = clock
        self.default_region = default_region
        self.sms_regions = sms_regions

    def register(self, username: str, password: str, phone_number: str, client: Client) -> str:
        """Create a user and return its id."""
        canonical = usernames.canonical(username)
        password = normalise_password(password)
        errors, phone = self._problems(username, phone_number)
        if found := self.password_policy.problems(password, username_canonical=canonical):
            errors["password"] = found
        if errors:
            raise ValidationFailed(errors)
        # Counted only once the fields are valid: a person correcting a form must not
        # lock themselves out, and a refused attempt costs no hash. A taken username
        # (409) counts, as probing for names is what these limits are for.
        limits = self.throttle.limits
        self.throttle.check(
            f"register:ip:{client.ip}", limits.register_ip, per_ip=True, name="register_ip"
        )
        self.throttle.check(
            f"register:user:{canonical}", limits.register_account, name="register_account"
        )
        self.pending.purge()  # expired pending accounts free their usernames
        if self.users.by_canonical_username(canonical) is not None:
            raise UsernameTaken("That username is already taken.")
        user = User(
            id=str(uuid.uuid4()),
            username=usernames.display_form(username),
            username_canonical=canonical,
            username_skeleton=usernames.skeleton(username),
            password_hash=self.hasher.hash(password),
            phone_e164=str(phone),
            created_at=self.clock.now(),
        )
        self.users.add(user)  # the unique index settles races: UsernameTaken
        # Failures counted against the name before it had an owner (unknown usernames
        # are delayed alike) are not the new owner's.
        self.guard.succeeded(canonical)
        self.audit.client_event(
            "registered", "success", client, user_id=user.id, username=user.username
        )
        return user.id

    def _problems(
        self, username: str, phone_number: str
    ) -> tuple[dict[str, list[str]], str | None]:
        """The registration rules for the username and the number: the problems by
        field, and the number in E.164 when it is acceptable."""
        errors: dict[str, list[str]] = {}
        if found := usernames.problems(username):
            errors["username"] = found
        phone: str | None = None
        try:
            phone = phones.parse_sendable(phone_number, self.default_region, self.sms_regions)
        except phones.PhoneNumberInvalid as exc:
            errors["phone_number"] = [str(exc)]
        return errors, phone

    def import_account(self, username: str, password_hash: str, phone_number: str) -> str:
        """An account from an older system, with its password hash (verified at sign-in,
        then upgraded to argon2id): the rules of registration for the username and the
        number, and a hash the service can verify. Its number counts as verified: the
        old system sent it codes, and a pending account would be removed after a day.
        Raises ValidationFailed or UsernameTaken; returns the new user id."""
        errors, phone = self._problems(username, phone_number)
        if not self.hasher.can_verify(password_hash):
            errors["password_hash"] = ["Not an argon2id or bcrypt hash."]
        if errors:
            raise ValidationFailed(errors)
        now = self.clock.now()
        user = User(
            id=str(uuid.uuid4()),
            username=usernames.display_form(username),
            username_canonical=usernames.canonical(username),
            username_skeleton=usernames.skeleton(username),
            password_hash=password_hash,
            phone_e164=str(phone),
            created_at=now,
            phone_verified_at=now,
        )
        self.users.add(user)  # the unique index settles duplicates: UsernameTaken
        return user.id
