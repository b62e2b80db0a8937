"""``secureflaskauth users import``: users from an older system's CSV export."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import click

from secureflaskauth.cli.context import load_wiring
from secureflaskauth.domain import phones, usernames
from secureflaskauth.domain.errors import StoreUnavailable, UsernameTaken
from secureflaskauth.domain.models import User

# Hashes the service can verify at login (and upgrades to its own argon2id then).
_HASH = re.compile(
    r"^(\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
    r"|\$2[aby]\$\d\d\$[./A-Za-z0-9]{53})$"
)
_HEADER = ("username", "password_hash", "phone_number")


@dataclass
class ImportReport:
    imported: int = 0
    skipped: list[dict[str, object]] = field(default_factory=list)


def _problems(row: list[str], region: str) -> tuple[list[str], str | None]:
    if len(row) != 3:
        hint = ""
        if len(row) > 3 and any(cell.strip().startswith("$argon2") for cell in row):
            hint = " (argon2 hashes contain commas: quote the hash in the CSV)"
        return [f"expected 3 columns ({', '.join(_HEADER)}), found {len(row)}{hint}"], None
    username, password_hash, phone = (cell.strip() for cell in row)
    found = list(usernames.problems(username))
    if not _HASH.match(password_hash):
        found.append("password_hash is not an argon2id or bcrypt hash")
    e164 = None
    try:
        e164 = phones.parse_mobile(phone, region)
    except phones.PhoneNumberInvalid as exc:
        found.append(f"phone_number: {exc}")
    return found, e164


@click.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def users_import(csv_file: Path, as_json: bool) -> None:
    """Import users from CSV_FILE: username, password hash (bcrypt or argon2id), phone
    number; an optional header row. Bad rows are skipped and reported."""
    w = load_wiring()
    text = csv_file.read_text(encoding="utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(text)))
    if rows and [c.strip().lower() for c in rows[0]] == list(_HEADER):
        rows = rows[1:]
        first = 2
    else:
        first = 1
    report = ImportReport()
    with click.progressbar(rows, label="importing users", file=sys.stderr) as bar:
        for number, row in enumerate(bar, start=first):
            if not any(cell.strip() for cell in row):
                continue
            found, e164 = _problems(row, w.settings.default_region)
            if found or e164 is None:
                report.skipped.append({"line": number, "reasons": found})
                continue
            username, password_hash = row[0].strip(), row[1].strip()
            user = User(
                id=str(uuid.uuid4()),
                username=usernames.display_form(username),
                username_canonical=usernames.canonical(username),
                password_hash=password_hash,
                phone_e164=e164,
                created_at=w.clock.now(),
                # Accounts of a system that sent them codes already: not pending, so
                # they are not removed as never verified.
                phone_verified_at=w.clock.now(),
            )
            try:
                w.users.add(user)
            except UsernameTaken:
                report.skipped.append({"line": number, "reasons": ["username already exists"]})
                continue
            except StoreUnavailable:
                raise click.ClickException("the database is unavailable") from None
            report.imported += 1
    w.audit.emit(
        "admin_action",
        "success",
        detail={
            "action": "import",
            "by": "cli",
            "imported": report.imported,
            "skipped": len(report.skipped),
        },
    )
    if as_json:
        click.echo(json.dumps({"imported": report.imported, "skipped": report.skipped}, indent=2))
        return
    click.echo(f"imported {report.imported} user(s), skipped {len(report.skipped)}")
    for skip in report.skipped:
        reasons = "; ".join(str(r) for r in skip["reasons"])  # type: ignore[attr-defined]
        click.echo(f"  line {skip['line']}: {reasons}", err=True)
