"""``secureflaskauth users import``: an older system's CSV export of username, bcrypt or
argon2id hash and phone number; bad rows are skipped and reported."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import argon2
import bcrypt
from flask.testing import FlaskClient

from secureflaskauth.domain import usernames
from tests.cli.conftest import (
    Cli,
    cli_json,
    cli_json_lines,
    full_sign_in,
    private_status,
    wiring_of,
)
from tests.conftest import PASSWORD, login, register, unique_username

HEADER = "username,password_hash,phone_number"


@cache
def bcrypt_hash() -> str:
    """One pre-made bcrypt hash of PASSWORD (cheapest cost), shared by every row."""
    return bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


@cache
def argon2_hash() -> str:
    """An argon2id hash with the parameters the tests' service uses (no rehash needed)."""
    hasher = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
    return hasher.hash(PASSWORD)


def quoted_argon2() -> str:
    """The hash as a CSV cell: it contains commas ($m=...,t=...,p=...), so it is quoted."""
    return f'"{argon2_hash()}"'


def write_csv(tmp_path: Path, lines: list[str], newline: str = "\n") -> Path:
    path = tmp_path / f"export-{len(list(tmp_path.glob('export-*')))}.csv"
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    return path


def mixed_file(tmp_path: Path, existing: str) -> tuple[Path, dict[str, str]]:
    """A header, three good rows and every kind of bad row."""
    names = {
        "bcrypt": unique_username("legacy.bc"),
        "argon2": unique_username("legacy.ar"),
        "last": unique_username("legacy.last"),
    }
    lines = [
        HEADER,  # line 1
        f"{names['bcrypt']},{bcrypt_hash()},0508464336",  # 2
        f"{names['argon2']},{quoted_argon2()},+972508464337",  # 3
        f"ab,{bcrypt_hash()},0508464336",  # 4 username too short
        f"{unique_username('legacy.md5')},$1$saltsalt$abcdefghijklmnopqrstuv,0508464336",  # 5
        f"{unique_username('legacy.ph')},{bcrypt_hash()},031234567",  # 6 a landline
        f"{unique_username('legacy.two')},{bcrypt_hash()}",  # 7
        f"{existing.upper()},{bcrypt_hash()},0508464336",  # 8 taken (in another case)
        "",  # 9
        f"{names['last']},{quoted_argon2()},0508464336",  # 10
    ]
    return write_csv(tmp_path, lines), names


EXPECTED_SKIPS: list[dict[str, Any]] = [
    {"line": 4, "reasons": ["Must be 8 to 64 characters long."]},
    {"line": 5, "reasons": ["password_hash: Not an argon2id or bcrypt hash."]},
    {"line": 6, "reasons": ["phone_number: Must be a mobile number that can receive SMS."]},
    {
        "line": 7,
        "reasons": ["expected 3 columns (username, password_hash, phone_number), found 2"],
    },
    {"line": 8, "reasons": ["username already exists"]},
]


def test_import_reports_skipped_lines_and_imports_the_rest(
    cli: Cli, client: FlaskClient, tmp_path: Path
) -> None:
    existing = register(client)
    path, names = mixed_file(tmp_path, existing)

    result = cli("users", "import", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "imported 3 user(s), skipped 5"
    reported = [line.strip() for line in result.stderr.splitlines() if line.startswith("  line")]
    assert reported == [f"line {s['line']}: {s['reasons'][0]}" for s in EXPECTED_SKIPS]

    listed = {u["username"]: u for u in cli_json(cli, "users", "list")}
    assert set(listed) == {existing, *names.values()}
    assert listed[names["argon2"]]["phone"] == "+972*****4337"
    assert listed[names["bcrypt"]]["phone"] == "+972*****4336"
    # Imported accounts come with numbers their old system verified; the one registered
    # here has not verified its number yet.
    assert {name: u["status"] for name, u in listed.items()} == {
        existing: "pending",
        **{name: "active" for name in names.values()},
    }
    w = wiring_of(client.application)
    stored = w.users.by_id(listed[names["bcrypt"]]["id"])
    assert stored is not None
    assert stored.password_hash == bcrypt_hash()
    assert stored.phone_e164 == "+972508464336"
    # The existing user was not overwritten by the duplicate row.
    kept = w.users.by_id(listed[existing]["id"])
    assert kept is not None and kept.password_hash.startswith("$argon2id$")

    audit = cli_json(cli, "audit", "tail", "-n", "1")
    assert audit[0]["event"] == "admin_action"
    assert audit[0]["detail"] == {"action": "import", "by": "cli", "imported": 3, "skipped": 5}


def test_import_json_report(cli: Cli, client: FlaskClient, tmp_path: Path) -> None:
    existing = register(client)
    path, _ = mixed_file(tmp_path, existing)

    result = cli("users", "import", "--json", str(path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"imported": 3, "skipped": EXPECTED_SKIPS}


def test_imported_bcrypt_user_signs_in_and_the_hash_is_upgraded(
    cli: Cli, client: FlaskClient, tmp_path: Path
) -> None:
    existing = register(client)
    path, names = mixed_file(tmp_path, existing)
    assert cli("users", "import", str(path)).exit_code == 0
    w = wiring_of(client.application)

    wrong = client.post("/auth/login", json={"username": names["bcrypt"], "password": "nope" * 4})
    assert wrong.status_code == 401
    user = w.users.by_canonical_username(names["bcrypt"])
    assert user is not None and user.password_hash == bcrypt_hash()  # no upgrade on failure

    signed = full_sign_in(client, names["bcrypt"])
    assert private_status(client, signed.access_token) == 200
    user = w.users.by_canonical_username(names["bcrypt"])
    assert user is not None
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert argon2.PasswordHasher().verify(user.password_hash, PASSWORD)
    outbox = client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json()
    assert outbox[0]["to"] == "+972508464336"

    # The argon2id user signs in too; their hash already has the service's parameters.
    argon2_user = full_sign_in(client, names["argon2"])
    assert private_status(client, argon2_user.access_token) == 200
    stored = w.users.by_canonical_username(names["argon2"])
    assert stored is not None and stored.password_hash == argon2_hash()
    outbox = client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json()
    assert outbox[0]["to"] == "+972508464337"


def test_file_without_header_crlf_and_duplicates_inside_it(
    cli: Cli, client: FlaskClient, tmp_path: Path
) -> None:
    name = unique_username("nohdr")
    other = unique_username("nohdr")
    lines = [
        f"{name},{bcrypt_hash()},0508464336",  # line 1
        f"bad name!,{bcrypt_hash()},0508464336",  # 2
        f"{name.upper()},{quoted_argon2()},0508464336",  # 3 repeats line 1
        f"{other},{quoted_argon2()},+972508464336",  # 4
    ]
    path = write_csv(tmp_path, lines, newline="\r\n")

    report = cli_json(cli, "users", "import", str(path))
    assert report == {
        "imported": 2,
        "skipped": [
            {
                "line": 2,
                "reasons": [
                    "May contain only letters, digits and the characters . _ - "
                    "(found U+0020 SPACE at position 4)."
                ],
            },
            {"line": 3, "reasons": ["username already exists"]},
        ],
    }
    assert sorted(u["username"] for u in cli_json(cli, "users", "list")) == sorted([name, other])
    assert login(client, name)["sent_to"] == "+972*****4336"

    # Importing the same file again adds nobody.
    again = cli_json(cli, "users", "import", str(path))
    assert again["imported"] == 0
    assert [s["line"] for s in again["skipped"]] == [1, 2, 3, 4]


def test_missing_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("users", "import", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_a_thousand_rows(cli: Cli, client: FlaskClient, tmp_path: Path) -> None:
    lines = [HEADER] + [f"bulk.user{i:04d},{bcrypt_hash()},0508464336" for i in range(1000)]
    path = write_csv(tmp_path, lines)

    report = cli_json(cli, "users", "import", str(path))
    assert report == {"imported": 1000, "skipped": []}
    assert len(cli_json(cli, "users", "list")) == 50  # a page
    listed = cli_json_lines(cli, "users", "list")
    assert len(listed) == 1000
    assert {u["username"] for u in listed} == {f"bulk.user{i:04d}" for i in range(1000)}
    assert login(client, "bulk.user0999")["sent_to"] == "+972*****4336"


def test_names_that_could_pass_for_others_are_skipped_with_the_reason(
    cli: Cli, client: FlaskClient, tmp_path: Path
) -> None:
    tag = unique_username("x")[2:]
    good = f"import.{tag}"
    lines = [
        f"{good},{bcrypt_hash()},0508464336",  # line 1
        f"import\u3164{tag},{bcrypt_hash()},0508464336",  # 2 an invisible filler
        f"imp\u043ert.{tag},{bcrypt_hash()},0508464336",  # 3 a Cyrillic "o"
        f"{'ß' * 33},{bcrypt_hash()},0508464336",  # 4 66 characters once folded
        f"IMPORT.{tag.upper()},{bcrypt_hash()},0508464336",  # 5 the first, in capitals
    ]
    report = cli_json(cli, "users", "import", str(write_csv(tmp_path, lines)))

    assert report == {
        "imported": 1,
        "skipped": [
            {"line": 2, "reasons": [usernames.INVISIBLE]},
            {"line": 3, "reasons": [usernames.MIXED_SCRIPTS]},
            {"line": 4, "reasons": [usernames.FOLDED_LENGTH]},
            {"line": 5, "reasons": ["username already exists"]},
        ],
    }
    assert [u["username"] for u in cli_json(cli, "users", "list")] == [good]


def test_import_applies_the_sms_countries_of_registration(cli: Cli, tmp_path: Path) -> None:
    """Imported numbers meet the rules of registration: a number in a country codes are
    not sent to (SFA_SMS_ALLOWED_REGIONS, the default region here) is skipped."""
    name = unique_username("abroad")
    path = write_csv(tmp_path, [f"{name},{bcrypt_hash()},+12015550123"])
    report = json.loads(cli("users", "import", str(path), "--json").stdout)
    assert report == {
        "imported": 0,
        "skipped": [
            {
                "line": 1,
                "reasons": [
                    "phone_number: Codes cannot be sent by SMS to this country (only to: IL)."
                ],
            }
        ],
    }
