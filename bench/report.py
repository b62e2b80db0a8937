"""The bench's options and its Markdown report."""

from __future__ import annotations

import math
import os
import platform
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench.load import Result
from secureflaskauth.domain.passwords import Argon2Parameters
from secureflaskauth.settings import Settings
from secureflaskauth.settings.sections import Argon2Settings, variable

ENDPOINTS = ("healthz", "private", "verify", "login", "flow")
LABELS = {
    "healthz": "GET /healthz",
    "private": "GET /auth/private (valid bearer token)",
    "private@half": "GET /auth/private, open loop at half of its peak",
    "verify": "POST /auth/verify-otp (right code, fresh challenge)",
    "login": "POST /auth/login (right password: argon2 + SMS)",
    "flow": "whole sign-ins (register, login, outbox, verify-otp, private)",
}


@dataclass(frozen=True)
class Ceilings:
    """argon2 alone on this machine, with as many threads as login clients: each
    ceiling the mean of its runs, one right before and one right after what it is the
    ceiling of (logins; whole sign-ins), so that the machine's drift over the run falls
    on both sides of the ratio alike."""

    verify_runs: tuple[float, ...]  # verifications a second
    hash_and_verify_runs: tuple[float, ...]  # hash + verify pairs a second

    @property
    def verify(self) -> float:
        return statistics.mean(self.verify_runs)

    @property
    def hash_and_verify(self) -> float:
        return statistics.mean(self.hash_and_verify_runs)

    def as_json(self) -> dict[str, object]:
        return {"verify": self.verify, "hash_and_verify": self.hash_and_verify, **vars(self)}


@dataclass(frozen=True)
class Options:
    duration: float
    warmup: float
    connections: int
    load_processes: int
    workers: int
    threads: int
    servers: tuple[str, ...]
    endpoints: tuple[str, ...]
    verify_pool: int
    login_users: int
    login_connections: int
    healthz_runs: int
    naive: bool
    argon2_seconds: float
    settings: dict[str, str]
    json_path: Path | None
    keep: bool

    def argon2(self) -> Argon2Parameters:
        """The measured server's argon2 parameters: --set, else the service's defaults."""
        defaults = Argon2Settings()
        values = {
            name: int(self.settings.get(variable(Argon2Settings, name), getattr(defaults, name)))
            for name in Argon2Settings.model_fields
        }
        return Argon2Settings(**values).parameters

    def setting(self, name: str) -> int:
        """An integer setting of the measured server: from --set, else the service's
        default (the bench ignores SFA_* variables of its own environment)."""
        given = self.settings.get(f"SFA_{name.upper()}")
        return int(given) if given is not None else setting_default(name)


def setting_default(name: str) -> int:
    value = Settings.model_fields[name].default
    assert isinstance(value, int)
    return value


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and not math.isnan(a) else ""


def _errors(r: Result) -> str:
    return ", ".join(f"{n}x {k}" for k, n in sorted(r["errors"].items())) or "0"


def _rps(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _row(name: str, r: Result, base: Result | None) -> str:
    ratio = _ratio(r["rps"], base["rps"]) if base else ""
    return (
        f"| {name} | {_rps(r['rps'])} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
        f"| {ratio} | {_errors(r)} |"
    )


def _server(opts: Options) -> str:
    name = opts.servers[0]
    return "`secureflaskauth serve`" if name == "serve" else name


def _main_table(opts: Options, g: dict[str, Result], argon2: Ceilings) -> list[str]:
    cores = os.cpu_count() or 1
    a = opts.argon2()
    base = g.get("healthz")
    n = opts.login_connections
    lines = [
        f"`make bench` on {cores} cores, Python {platform.python_version()}: "
        f"{_server(opts)}, {opts.workers} workers x {opts.threads} threads, SQLite, outbox "
        f"SMS; load: {opts.connections} keep-alive "
        f"connections from {opts.load_processes} processes (bench/load.py; {n} for login "
        f"and whole sign-ins), {opts.warmup:g} s warm-up then {opts.duration:g} s per "
        "endpoint." + "".join(f" {k}={v}." for k, v in opts.settings.items()),
        "",
        "| endpoint | requests/s | p50 ms | p99 ms | vs /healthz | errors |",
        "|---|---:|---:|---:|---:|---:|",
        # The open loop's rate is set by the bench (half the peak): no ratio for it.
        *(
            _row(label, g[e], None if e == "private@half" else base)
            for e, label in LABELS.items()
            if e in g
        ),
        f"| argon2id verify alone (t={a.time_cost}, {a.memory_cost_kib // 1024} MiB, "
        f"p={a.parallelism}; {n} threads) | {argon2.verify:.1f} | | | | |",
        f"| argon2id hash + verify alone ({n} threads) | {argon2.hash_and_verify:.1f} | | | | |",
        "",
    ]
    for key, what in (("healthz", "/healthz"), ("private", "/auth/private")):
        runs = [g[k]["rps"] for k in sorted(g) if k.startswith(f"{key}#")]
        if len(runs) > 1:
            after = ", each right after one of /healthz's" if key == "private" else ""
            lines.append(
                f"- {what} is the median of {len(runs)} runs{after}: "
                + ", ".join(f"{r:.0f}" for r in runs)
                + " requests/s."
            )
    if "private" in g:
        remembered = opts.settings.get("SFA_JWT_VERIFIED_CACHE_SIZE", "") != "0"
        lines.append(
            f"- /auth/private: {opts.connections} tokens, "
            + (
                "each checked in full once per worker, then answered from the worker's "
                "verified-token cache (SFA_JWT_VERIFIED_CACHE_SIZE; the session's "
                "revocation is still checked every time; `python -m bench.costs` gives "
                "the full check's cost). The naive reference checks every token in full."
                if remembered
                else "each checked in full every time (SFA_JWT_VERIFIED_CACHE_SIZE=0)."
            )
        )
    for what, rates, of in (
        ("verifications", argon2.verify_runs, "logins"),
        ("hash + verify pairs", argon2.hash_and_verify_runs, "whole sign-ins"),
    ):
        if len(rates) > 1:
            lines.append(
                f"- argon2 alone, right before and right after the {of} (their ceiling is "
                f"the mean): " + " and ".join(f"{r:.1f}" for r in rates) + f" {what} a second."
            )
    if "verify" in g:
        v = g["verify"]
        lines.append(
            "- verify-otp: every request sends the right code of its own live challenge, "
            "made beforehand through /auth/register, /auth/login and /dev/outbox (one user "
            "per code: a new login replaces the older code; those users have OWASP-floor "
            "argon2 hashes, which verify-otp never reads). Each code is sent once, so the "
            f"run is as long as the {opts.verify_pool} codes last: {v['requests']} requests "
            f"measured over {v['seconds']:g} s after a warm-up on the first tenth."
        )
    return lines


# (what, goal, higher is better)
_TARGETS = {
    "private_vs_healthz": ("/auth/private vs /healthz, same server", 0.9, True),
    "private_vs_naive": (
        "/auth/private vs the naive reference's (Flask + PyJWT, gunicorn sync workers:"
        " a new connection for every request)",
        2.0,
        True,
    ),
    "private_vs_naive_same_server": (
        "/auth/private vs the naive app's under the service's own server",
        1.0,
        True,
    ),
    "private_p99_half": ("/auth/private p99 ms at half of its peak", 5.0, False),
    "healthz_spread": ("/healthz spread, min/max of its runs", 0.75, True),
    "login_vs_argon2": ("logins vs argon2 verifications, same concurrency", 0.9, True),
    "flow_vs_argon2": ("whole sign-ins vs argon2 hash + verify pairs", 0.85, True),
}


def measured_targets(
    results: dict[str, dict[str, Result]], main: str, argon2: Ceilings
) -> dict[str, float]:
    """Each target's measured value, where this run measured what it needs."""
    out: dict[str, float] = {}
    g = results[main]
    naive = (("naive-sync", "private_vs_naive"), ("naive", "private_vs_naive_same_server"))

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("nan")

    if "private" in g and "healthz" in g:
        out["private_vs_healthz"] = ratio(g["private"]["rps"], g["healthz"]["rps"])
    for name, key in naive:
        if "private" in g and "private" in results.get(name, {}):
            out[key] = ratio(g["private"]["rps"], results[name]["private"]["rps"])
    if "private@half" in g:
        out["private_p99_half"] = g["private@half"]["p99_ms"]
    runs = [g[k]["rps"] for k in g if k.startswith("healthz#")]
    if len(runs) > 1:
        out["healthz_spread"] = ratio(min(runs), max(runs))
    if "login" in g:
        out["login_vs_argon2"] = ratio(g["login"]["rps"], argon2.verify)
    if "flow" in g:
        out["flow_vs_argon2"] = ratio(g["flow"]["rps"], argon2.hash_and_verify)
    return out


def _targets_table(values: dict[str, float]) -> list[str]:
    lines = ["", "| target | measured | goal | met |", "|---|---:|---:|---|"]
    for key, value in values.items():
        what, goal, higher = _TARGETS[key]
        met = value >= goal if higher else value < goal
        sign = ">=" if higher else "<"
        lines.append(f"| {what} | {value:.2f} | {sign} {goal:g} | {'yes' if met else 'NO'} |")
    return lines


def _servers_table(opts: Options, results: dict[str, dict[str, Result]]) -> list[str]:
    lines = [
        "",
        f"Servers, same app and load, {opts.workers} workers x {opts.threads} threads "
        f"(waitress has no worker processes: 1 process x {opts.workers * opts.threads} "
        "threads):",
        "",
        "| server | /healthz req/s | p50 ms | p99 ms | /auth/private req/s | p50 ms | p99 ms "
        "| private vs healthz | private p50 / p99 ms at half of its peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        h, p = r["healthz"], r["private"]
        half = r.get("private@half")
        at_half = f"{half['p50_ms']:.1f} / {half['p99_ms']:.1f}" if half else ""
        lines.append(
            f"| {name} | {h['rps']:.0f} | {h['p50_ms']:.1f} | {h['p99_ms']:.1f} "
            f"| {p['rps']:.0f} | {p['p50_ms']:.1f} | {p['p99_ms']:.1f} "
            f"| {_ratio(p['rps'], h['rps'])} | {at_half} |"
        )
    return lines


def report(opts: Options, results: dict[str, dict[str, Result]], argon2: Ceilings) -> str:
    main = results[opts.servers[0]]
    lines = _main_table(opts, main, argon2)
    lines += _targets_table(measured_targets(results, opts.servers[0], argon2))
    compared = {n: r for n, r in results.items() if "healthz" in r and "private" in r}
    if len(compared) > 1:
        lines += _servers_table(opts, compared)
    return "\n".join(lines)
