"""``secureflaskauth users import``: users from an older system's CSV export."""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from secureflaskauth.cli.context import load_wiring
from secureflaskauth.domain.errors import StoreUnavailable, UsernameTaken, ValidationFailed

_HEADER = ("username", "password_hash", "phone_number")


@dataclass(frozen=True)
class Skipped:
    line: int
    reasons: list[str]


@dataclass
class ImportReport:
    imported: int = 0
    skipped: list[Skipped] = field(default_factory=list)


def _columns(row: list[str]) -> str | None:
    """Why a CSV row is not three columns, or None."""
    if len(row) == 3:
        return None
    hint = ""
    if len(row) > 3 and any(cell.strip().startswith("$argon2") for cell in row):
        hint = " (argon2 hashes contain commas: quote the hash in the CSV)"
    return f"expected 3 columns ({', '.join(_HEADER)}), found {len(row)}{hint}"


def _reasons(errors: dict[str, list[str]]) -> list[str]:
    """Validation errors as the report lists them: the username's as they are, the
    other fields' named."""
    reasons = list(errors.pop("username", []))
    for name, messages in errors.items():
        reasons.extend(f"{name}: {message}" for message in messages)
    return reasons


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
            if (bad := _columns(row)) is not None:
                report.skipped.append(Skipped(number, [bad]))
                continue
            username, password_hash, phone = (cell.strip() for cell in row)
            try:
                w.registration.import_account(username, password_hash, phone)
            except ValidationFailed as exc:
                report.skipped.append(Skipped(number, _reasons(dict(exc.errors))))
                continue
            except UsernameTaken:
                report.skipped.append(Skipped(number, ["username already exists"]))
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
        skipped = [asdict(skip) for skip in report.skipped]
        click.echo(json.dumps({"imported": report.imported, "skipped": skipped}, indent=2))
        return
    click.echo(f"imported {report.imported} user(s), skipped {len(report.skipped)}")
    for skip in report.skipped:
        click.echo(f"  line {skip.line}: {'; '.join(skip.reasons)}", err=True)
