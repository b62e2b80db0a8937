"""The factors of an account as its owner sees them, their removal, and the methods a
sign-in offers (the strongest first: an authenticator app before an SMS)."""

from __future__ import annotations

from dataclasses import dataclass

from secureflaskauth.domain import phones
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.factors import (
    RECOVERY_CODES,
    SMS,
    FactorNotFound,
    PhoneIsKept,
    stronger,
)
from secureflaskauth.domain.factors.check import TotpCheck
from secureflaskauth.domain.models import Client, User
from secureflaskauth.domain.notices import Notices
from secureflaskauth.domain.ports import Clock, FactorStore
from secureflaskauth.domain.reauth import PASSWORD_ONLY, Proof, StepUp
from secureflaskauth.domain.recovery import RecoveryCodes

_MAX_ID = 64


@dataclass(frozen=True)
class FactorInfo:
    """One factor in the owner's list; no secret."""

    id: str
    type: str
    label: str
    created_at: float
    last_used_at: float | None


class AccountFactors:
    def __init__(
        self,
        *,
        store: FactorStore,
        totp: TotpCheck,
        recovery: RecoveryCodes,
        step_up: StepUp,
        notices: Notices,
        audit: Audit,
        clock: Clock,
    ) -> None:
        self.store = store
        self.totp = totp
        self.recovery = recovery
        self.step_up = step_up
        self.notices = notices
        self.audit = audit
        self.clock = clock

    def methods(self, user: User) -> tuple[str, ...]:
        """The second steps a sign-in may use, the one it starts with first, the
        strongest: a passkey (phishing-resistant), the app, then the SMS, which is sent
        at login only when nothing else is there (or when asked for)."""
        return (*stronger(self.store.for_user(user.id)), SMS)

    def types(self, user: User) -> tuple[str, ...]:
        """The types of the account's factors (GET /auth/me), each once."""
        return tuple(dict.fromkeys(f.type for f in self.listed(user)))

    def listed(self, user: User) -> list[FactorInfo]:
        """The phone, the active factors, and the recovery codes while some are unused."""
        phone = FactorInfo(
            id=SMS,
            type=SMS,
            label=phones.mask(user.phone_e164),
            created_at=user.phone_verified_at or user.created_at,
            last_used_at=None,
        )
        found = [phone]
        found.extend(
            FactorInfo(f.id, f.type, f.label, f.confirmed_at or f.created_at, f.last_used_at)
            for f in self.store.for_user(user.id)
            if f.active
        )
        if remaining := self.recovery.remaining(user.id):
            issued, last_used = self.recovery.issued(user.id)
            found.append(
                FactorInfo(
                    id=RECOVERY_CODES,
                    type=RECOVERY_CODES,
                    label=f"{remaining} unused",
                    created_at=issued,
                    last_used_at=last_used,
                )
            )
        return found

    def remove(
        self,
        user: User,
        factor_id: str,
        password: str,
        client: Client,
        proof: Proof = PASSWORD_ONLY,
    ) -> None:
        """Remove a factor with the password asked again, and the strongest factor
        (reauth.py: removing the app needs its code, or a passkey's assertion when the
        account has one); the phone stays (409). What is refused is refused before the
        password is checked: it costs no attempt."""
        if factor_id == SMS:
            raise PhoneIsKept()
        listed = {f.id: f for f in self.listed(user)} if len(factor_id) <= _MAX_ID else {}
        factor = listed.get(factor_id)
        if factor is None:
            raise FactorNotFound()
        by = self.step_up.confirm(user, password, proof, client, purpose="factor removal")
        if factor.type == RECOVERY_CODES:
            removed = self.recovery.revoke(user.id) > 0
        else:
            removed = self.store.delete(factor.id, user_id=user.id)
        if not removed:
            raise FactorNotFound()  # removed by another request meanwhile
        self.audit.client_event(
            "factor_removed",
            "success",
            client,
            user_id=user.id,
            username=user.username,
            detail={"type": factor.type, "factor_id": factor.id, "confirmed_by": by},
        )
        self.notices.send(user, f"{factor.type}_removed", client)
