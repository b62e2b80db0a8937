"""A TOTP code checked against the account's authenticator app, each time step once."""

from __future__ import annotations

from secureflaskauth.domain.factors import TOTP, stronger, totp
from secureflaskauth.domain.factors.sealing import SecretBox
from secureflaskauth.domain.models import Factor
from secureflaskauth.domain.ports import FactorStore


def context(factor_id: str, user_id: str) -> str:
    """What a factor's sealed secret is bound to: it opens in its own row only."""
    return f"factor:{factor_id}:{user_id}"


class TotpCheck:
    def __init__(self, *, store: FactorStore, box: SecretBox) -> None:
        self.store = store
        self.box = box

    def active(self, user_id: str) -> Factor | None:
        """The account's active authenticator app, if it has one."""
        found = [f for f in self.store.for_user(user_id) if f.type == TOTP and f.active]
        return found[-1] if found else None

    def stronger(self, user_id: str) -> tuple[str, ...]:
        """The account's active factors stronger than the SMS, the strongest first."""
        return stronger(self.store.for_user(user_id))

    def secret(self, factor: Factor) -> bytes:
        assert factor.secret is not None
        return self.box.open(factor.secret, context(factor.id, factor.user_id))

    def matching(self, user_id: str, code: str, now: float) -> tuple[Factor, int] | None:
        """The active app and the time step within the drift window whose code is
        ``code``, or None; nothing is used up (``advance`` does, once)."""
        factor = self.active(user_id)
        if factor is None:
            return None
        step = totp.matching_step(self.secret(factor), code, now)
        return None if step is None else (factor, step)

    def advance(self, factor: Factor, step: int, now: float) -> bool:
        """Use ``step`` up (and every earlier one): True for exactly one request."""
        return self.store.advance(factor.id, counter=step, now=now)

    def use(self, user_id: str, code: str, now: float) -> bool:
        """Whether ``code`` is the app's code within the drift window and its time step
        was not used before; a True uses that step up (and every earlier one), so of
        any number of requests presenting the code at once exactly one gets True."""
        found = self.matching(user_id, code, now)
        return found is not None and self.advance(*found, now)
