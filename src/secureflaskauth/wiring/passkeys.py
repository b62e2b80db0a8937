"""The passkey parts: the relying party from its settings section, the ceremony
challenges in the shared counters, the registration and the step-up of sensitive
actions (the sign-in is built on them once the sign-in flow is)."""

from __future__ import annotations

from dataclasses import dataclass

from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.factors.ceremony import CeremonyChallenges
from secureflaskauth.domain.factors.passkey_enrolment import PasskeyEnrolment
from secureflaskauth.domain.factors.passkey_stepup import PasskeyStepUp
from secureflaskauth.domain.factors.passkeys import RelyingParty
from secureflaskauth.domain.notices import Notices
from secureflaskauth.domain.ports import Clock, Counters, FactorStore
from secureflaskauth.domain.ratelimit import Throttle
from secureflaskauth.domain.reauth import PasswordCheck
from secureflaskauth.settings.webauthn import WebAuthnSettings


@dataclass(frozen=True)
class PasskeyParts:
    rp: RelyingParty
    challenges: CeremonyChallenges
    enrolment: PasskeyEnrolment
    step_up: PasskeyStepUp


def passkey_parts(
    section: WebAuthnSettings,
    *,
    port: int,
    app_name: str,
    counters: Counters,
    key: bytes,
    store: FactorStore,
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
    step_up = PasskeyStepUp(store=store, challenges=challenges, rp=rp, audit=audit)
    return PasskeyParts(rp, challenges, enrolment, step_up)
