"""The passkey parts: the relying party from its settings section, the ceremony
challenges in the shared counters, the registration and the sign-in."""

from __future__ import annotations

from dataclasses import dataclass

from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.factors.ceremony import CeremonyChallenges
from secureflaskauth.domain.factors.passkey_enrolment import PasskeyEnrolment
from secureflaskauth.domain.factors.passkey_signin import PasskeySignIn
from secureflaskauth.domain.factors.passkeys import RelyingParty
from secureflaskauth.domain.notices import Notices
from secureflaskauth.domain.ports import Clock, Counters, FactorStore
from secureflaskauth.domain.ratelimit import Throttle
from secureflaskauth.domain.reauth import PasswordCheck
from secureflaskauth.domain.signin import SignIn
from secureflaskauth.settings.webauthn import WebAuthnSettings


@dataclass(frozen=True)
class PasskeyParts:
    enrolment: PasskeyEnrolment
    signin: PasskeySignIn


def passkey_parts(
    section: WebAuthnSettings,
    *,
    port: int,
    app_name: str,
    counters: Counters,
    key: bytes,
    store: FactorStore,
    signin: SignIn,
    password_check: PasswordCheck,
    throttle: Throttle,
    notices: Notices,
    audit: Audit,
    clock: Clock,
) -> PasskeyParts:
    rp_id, origins = section.resolved(port)
    rp = RelyingParty(id=rp_id, name=app_name, origins=origins)
    challenges = CeremonyChallenges(counters=counters, key=key, clock=clock)
    enrolment = PasskeyEnrolment(
        store=store,
        challenges=challenges,
        rp=rp,
        password_check=password_check,
        throttle=throttle,
        notices=notices,
        audit=audit,
        clock=clock,
    )
    return PasskeyParts(
        enrolment, PasskeySignIn(signin=signin, store=store, challenges=challenges, rp=rp)
    )
