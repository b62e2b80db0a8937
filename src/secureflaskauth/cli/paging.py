"""Listings a page at a time: the options every list command shares, the line that
gives the command for the next page, and whole listings streamed row by row."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import chain, islice
from typing import Any, TypeVar

import click

from secureflaskauth.cli.context import emit_rows
from secureflaskauth.domain.directory import InvalidCursor, Page

DEFAULT_LIMIT = 50
MAX_LIMIT = 10_000
# A whole listing printed as a table takes its column widths from this many rows.
_WIDTH_SAMPLE = 1000
PROGRAM = "secureflaskauth"

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def paging_options(fn: F) -> F:
    """--limit, --after, --all and --json."""
    for option in reversed(
        [
            click.option(
                "--limit",
                type=click.IntRange(1, MAX_LIMIT),
                help=f"Rows in a page (default {DEFAULT_LIMIT}).",
            ),
            click.option("--after", help="Start after this cursor (printed after a page)."),
            click.option(
                "--all",
                "every",
                is_flag=True,
                help="Every row, read in batches (with --json: one JSON object a line).",
            ),
            click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
        ]
    ):
        fn = option(fn)
    return fn


def check_paging(limit: int | None, every: bool) -> int:
    if every and limit is not None:
        raise click.UsageError("give --limit or --all, not both")
    return limit or DEFAULT_LIMIT


def parse_since(value: str | None) -> float | None:
    """--created-since: an ISO 8601 date or time (UTC unless it says otherwise)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            "not an ISO 8601 date or time (2026-11-30 or 2026-11-30T12:00:00Z)",
            param_hint="'--created-since'",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def fetch(read: Callable[[], T]) -> T:
    """Run a read that takes an --after cursor; a bad cursor is a usage error."""
    try:
        return read()
    except InvalidCursor as exc:
        raise click.BadParameter(str(exc), param_hint="'--after'") from None


def emit_page(
    page: Page[T],
    row: Callable[[T], dict[str, Any]],
    columns: Sequence[str],
    *,
    as_json: bool,
    command: Sequence[str],
) -> None:
    """One page as JSON or a table on stdout; on stderr, the command for the next."""
    emit_rows([row(r) for r in page.rows], columns, as_json)
    if page.next is not None:
        again = [PROGRAM, *command, "--after", page.next]
        click.echo(f"next page: {shlex.join(again)}", err=True)


def emit_counts(counts: dict[str, int], key: str, noun: str, *, as_json: bool) -> None:
    """Counts by state: one JSON object, or a table of ``key`` and ``noun`` columns."""
    if as_json:
        click.echo(json.dumps(counts))
        return
    emit_rows([{key: k, noun: v} for k, v in counts.items()], [key, noun], False)


def emit_every(
    rows: Iterator[T], row: Callable[[T], dict[str, Any]], columns: Sequence[str], *, as_json: bool
) -> None:
    """Every row as it comes: JSON lines, or a table whose widths the first rows set."""
    if as_json:
        for found in rows:
            click.echo(json.dumps(row(found)))
        return
    first = [row(r) for r in islice(rows, _WIDTH_SAMPLE)]
    if not first:
        click.echo("(none)")
        return
    widths = {c: max(len(c), *(len(_cell(r, c)) for r in first)) for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    rest: Iterable[dict[str, Any]] = (row(r) for r in rows)
    for shown in chain(first, rest):
        click.echo("  ".join(_cell(shown, c).ljust(widths[c]) for c in columns).rstrip())


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    return "-" if value is None else str(value)


def options_given(pairs: Sequence[tuple[str, object]]) -> list[str]:
    """The command line that repeats these options (flags when True, skipped when
    None or False)."""
    args: list[str] = []
    for name, value in pairs:
        if value is True:
            args.append(name)
        elif value is not None and value is not False:
            args.extend([name, str(value)])
    return args
