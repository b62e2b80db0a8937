"""The passkey parts: the relying party from its settings section, the ceremony
challenges in the shared counters, the registration and the step-up of sensitive
actions (the sign-in is built on them once the sign-in flow is)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.factors.ceremony import CeremonyChallenges
from secureflaskauth.domain.factors.passkey_enrolment import PasskeyEnrolment
from secureflaskauth.domain.factors.passkey_stepup import PasskeyStepUp
from secureflaskauth.domain.factors.passkeys import RelyingParty
from secureflaskauth.domain.notices import Notices
from secureflaskauth.domain.ports import Clock, Counters, FactorStore
from secureflaskauth.domain.ratelimit import Throttle
from secureflaskauth.domain.reauth import StepUp
from secureflaskauth.settings.webauthn import WebAuthnSettings


@dataclass(frozen=True)
class PasskeyParts:
    rp: RelyingParty
    challenges: CeremonyChallenges
    enrolment: PasskeyEnrolment
    passkey_step_up: PasskeyStepUp
    step_up: StepUp


def passkey_parts(
    section: WebAuthnSettings,
    *,
    port: int,
    app_name: str,
    counters: Counters,
    key: bytes,
    store: FactorStore,
    step_up_with: Callable[[PasskeyStepUp], StepUp],
    throttle: Throttle,
    notices: Notices,
    audit: Audit,
    clock: Clock,
) -> PasskeyParts:
    rp_id, origins = section.resolved(port)
    rp = RelyingParty(id=rp_id, name=app_name, origins=origins)
    challenges = CeremonyChallenges(counters=counters, key=key, clock=clock)
    # The account's step-up needs the passkey check, and adding a passkey the step-up.
    passkey_step_up = PasskeyStepUp(store=store, challenges=challenges, rp=rp, audit=audit)
    step_up = step_up_with(passkey_step_up)
    enrolment = PasskeyEnrolment(
        store=store,
        challenges=challenges,
        rp=rp,
        step_up=step_up,
        throttle=throttle,
        notices=notices,
        audit=audit,
        clock=clock,
    )
    return PasskeyParts(rp, challenges, enrolment, passkey_step_up, step_up)
