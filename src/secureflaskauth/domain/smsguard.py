"""SMS pumping and bombing defence (OWASP API4:2023 scenario 1): where codes may go,
how many, and an alarm when codes are sent but not used.

Codes for an account whose number is verified and codes for a pending account are
counted apart: a pending account's sends have small caps of their own (per account,
per number, per number prefix and a share of the hourly budget), and nothing they
count is a cap that a verified owner's sign-in uses. So nobody who registers
accounts with someone else's number, or with the numbers around it, can stop that
number's verified owner from receiving their own code. Nor can anyone who knows a
username alone: a verified number's codes for a password reset (which anyone may ask
for) are counted apart from its sign-in codes, under the same caps.

Counters live behind the Counters port, so every node shares them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from secureflaskauth.domain import phones
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.errors import TooManyRequests
from secureflaskauth.domain.models import SIGN_IN, Client
from secureflaskauth.domain.ports import Clock
from secureflaskauth.domain.ratelimit import Rate, RateMeter

log = logging.getLogger("secureflaskauth.sms.guard")
_HOUR = 3600


@dataclass(frozen=True)
class SmsPolicy:
    allowed_regions: frozenset[str]
    per_number: tuple[Rate, ...]  # sends for accounts that verified the number
    per_prefix: tuple[Rate, ...]  # pending accounts' sends to numbers sharing a prefix
    per_ip: tuple[Rate, ...]
    per_account: tuple[Rate, ...]
    hourly_budget: int  # every send in an hour, all accounts together
    # Pending accounts (number not verified yet): their own smaller caps.
    unverified_per_number: tuple[Rate, ...]
    unverified_per_account: tuple[Rate, ...]
    unverified_hourly_budget: int  # below the global budget: the rest is the owners'
    prefix_digits: int  # digits dropped from the end to form a number's prefix
    conversion_min_sent: int  # judge the verified/sent ratio from this many sends
    conversion_alert_below: float
    per_ip_enabled: bool


class SmsRefused(TooManyRequests):
    """One answer for every cap, so the refusal does not reveal the policy."""

    slug = "sms-not-sent"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "No code can be sent right now. Please try again later.",
            retry_after=max(1, retry_after),
        )


class SmsGuard:
    def __init__(self, counters: RateMeter, clock: Clock, policy: SmsPolicy, audit: Audit) -> None:
        self.counters = counters
        self.clock = clock
        self.policy = policy
        self.audit = audit

    def prefix(self, e164: str) -> str:
        return e164[: max(4, len(e164) - self.policy.prefix_digits)]

    def allow(
        self, e164: str, user_id: str, client: Client, *, verified: bool, purpose: str = SIGN_IN
    ) -> None:
        """Count one intended SMS against every cap; refuse (429) when one is exceeded.

        ``verified``: the account has verified this number. Its sends are counted in
        buckets only such sends reach; a pending account's in buckets of their own.
        ``purpose``: what the code completes. A verified number's codes for anything
        but a sign-in (a reset, which a username alone asks for) have buckets of their
        own, so they cannot use up the owner's sign-in codes.
        """
        region = phones.region(e164)
        if region not in self.policy.allowed_regions:
            self._blocked("region", user_id, client, region, _HOUR)
        p = self.policy
        checks: list[tuple[str, str, tuple[Rate, ...]]]
        if verified:
            scope = "" if purpose == SIGN_IN else f"{purpose}:"
            checks = [
                ("number", f"sms:{scope}number:{e164}", p.per_number),
                ("account", f"sms:{scope}user:{user_id}", p.per_account),
            ]
            ip_key = f"sms:ip:verified:{client.ip}"
        else:
            checks = [
                ("number", f"sms:unverified:number:{e164}", p.unverified_per_number),
                ("prefix", f"sms:unverified:prefix:{self.prefix(e164)}", p.per_prefix),
                # Its own key: the verified sign-in codes of the same account (a phone
                # change's owner) must not use up this smaller cap, nor it theirs.
                ("account", f"sms:unverified:user:{user_id}", p.unverified_per_account),
            ]
            ip_key = f"sms:ip:{client.ip}"
        if p.per_ip_enabled:
            checks.append(("ip", ip_key, p.per_ip))
        now = self.clock.now()
        for reason, key, rates in checks:
            for rate in rates:
                wait = self.counters.hit(key, rate, now=now)
                if wait:
                    self._blocked(reason, user_id, client, region, math.ceil(wait))
        if not verified:
            share = Rate(p.unverified_hourly_budget, _HOUR)
            wait = self.counters.hit("sms:unverified:global", share, now=now)
            if wait:
                log.critical(
                    "ALERT: pending accounts used their share (%d) of the hourly SMS budget; "
                    "their codes are stopped, verified numbers still get theirs",
                    p.unverified_hourly_budget,
                )
                self.audit.client_event(
                    "sms_alert",
                    "pending_budget",
                    client,
                    detail={"budget": p.unverified_hourly_budget},
                )
                self._blocked("pending_budget", user_id, client, region, math.ceil(wait))
        budget = Rate(p.hourly_budget, _HOUR)
        wait = self.counters.hit("sms:global", budget, now=now)
        if wait:
            log.critical(
                "ALERT: global hourly SMS budget of %d exhausted; sends are stopped",
                p.hourly_budget,
            )
            self.audit.client_event(
                "sms_alert", "budget_exhausted", client, detail={"budget": p.hourly_budget}
            )
            self._blocked("budget", user_id, client, region, math.ceil(wait))

    def _blocked(
        self, reason: str, user_id: str, client: Client, region: str, retry_after: int
    ) -> None:
        self.audit.client_event(
            "sms_blocked", reason, client, user_id=user_id, detail={"country": region}
        )
        raise SmsRefused(retry_after)

    def sent(self, client: Client) -> None:
        """A code went out: count it and watch the share of codes that get used."""
        now = self.clock.now()
        sent = self.counters.add("sms:conversion:sent", period=_HOUR, now=now)
        p = self.policy
        if sent < p.conversion_min_sent or sent % p.conversion_min_sent:
            return
        verified = self.counters.count("sms:conversion:verified", period=_HOUR, now=now)
        ratio = verified / sent
        if ratio < p.conversion_alert_below:
            # The signature of SMS pumping: many codes sent, few ever entered.
            log.critical(
                "ALERT: only %d of %d codes sent this hour were used (%.0f%%); "
                "possible SMS pumping",
                verified,
                sent,
                ratio * 100,
            )
            self.audit.client_event(
                "sms_alert",
                "low_conversion",
                client,
                detail={"sent": sent, "verified": verified, "ratio": round(ratio, 3)},
            )

    def verified(self) -> None:
        self.counters.add("sms:conversion:verified", period=_HOUR, now=self.clock.now())
