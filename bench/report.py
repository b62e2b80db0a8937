"""The bench's options and its Markdown report."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from bench.load import Result
from secureflaskauth.settings import Settings

ENDPOINTS = ("healthz", "private", "verify", "login")
LABELS = {
    "healthz": "GET /healthz",
    "private": "GET /auth/private (valid bearer token)",
    "verify": "POST /auth/verify-otp (right code, fresh challenge)",
    "login": "POST /auth/login (right password: argon2 + SMS)",
}


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
    argon2_seconds: float
    settings: dict[str, str]
    json_path: Path | None
    keep: bool

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


def _main_table(opts: Options, g: dict[str, Result], argon2: float) -> list[str]:
    cores = os.cpu_count() or 1
    d = opts.setting
    base = g.get("healthz")
    lines = [
        f"`make bench` on {cores} cores, Python {platform.python_version()}: "
        f"{_server(opts)}, {opts.workers} workers x {opts.threads} threads, SQLite, outbox "
        f"SMS; load: {opts.connections} keep-alive "
        f"connections from {opts.load_processes} processes (bench/load.py), "
        f"{opts.warmup:g} s warm-up then {opts.duration:g} s per endpoint."
        + "".join(f" {k}={v}." for k, v in opts.settings.items()),
        "",
        "| endpoint | requests/s | p50 ms | p99 ms | vs /healthz | errors |",
        "|---|---:|---:|---:|---:|---:|",
        *(_row(LABELS[e], g[e], base) for e in ENDPOINTS if e in g),
        f"| argon2id verify alone (t={d('argon2_time_cost')}, "
        f"{d('argon2_memory_kib') // 1024} MiB, p={d('argon2_parallelism')}; {cores} threads) "
        f"| {argon2:.1f} | | | | |",
        "",
    ]
    if "login" in g:
        lines.append(
            f"- POST /auth/login reaches {_ratio(g['login']['rps'], argon2)} of the argon2 "
            "verify rate (each login also writes a challenge and an outbox SMS)."
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


def _servers_table(opts: Options, results: dict[str, dict[str, Result]]) -> list[str]:
    lines = [
        "",
        f"Servers, same app and load, {opts.workers} workers x {opts.threads} threads "
        f"(waitress has no worker processes: 1 process x {opts.workers * opts.threads} "
        "threads):",
        "",
        "| server | /healthz req/s | p50 ms | p99 ms | /auth/private req/s | p50 ms | p99 ms "
        "| private vs healthz |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        h, p = r["healthz"], r["private"]
        lines.append(
            f"| {name} | {h['rps']:.0f} | {h['p50_ms']:.1f} | {h['p99_ms']:.1f} "
            f"| {p['rps']:.0f} | {p['p50_ms']:.1f} | {p['p99_ms']:.1f} "
            f"| {_ratio(p['rps'], h['rps'])} |"
        )
    return lines


def report(opts: Options, results: dict[str, dict[str, Result]], argon2: float) -> str:
    lines = _main_table(opts, results[opts.servers[0]], argon2)
    compared = {n: r for n, r in results.items() if "healthz" in r and "private" in r}
    if len(compared) > 1:
        lines += _servers_table(opts, compared)
    return "\n".join(lines)
