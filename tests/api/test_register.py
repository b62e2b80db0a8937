"""POST /auth/register: the validation rules of registration, over HTTP."""

from __future__ import annotations

import secrets
import time
import unicodedata
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping
from werkzeug.test import TestResponse

from secureflaskauth.adapters.db.tables import users
from secureflaskauth.domain import usernames
from secureflaskauth.domain.models import User
from tests.conftest import PASSWORD, PHONE, unique_username
from tests.helpers import problem


def field_errors(response: TestResponse) -> dict[str, list[str]]:
    body = problem(response, 422)
    errors: dict[str, list[str]] = body["errors"]
    assert errors and all(isinstance(m, str) and m for ms in errors.values() for m in ms)
    return errors


def post(client: FlaskClient, **fields: Any) -> TestResponse:
    body = {"username": unique_username(), "password": PASSWORD, "phone_number": PHONE}
    body.update(fields)
    return client.post("/auth/register", json=body)


def row(app: Flask, username: str) -> RowMapping | None:
    engine = app.extensions["secureflaskauth"].engine
    canonical = unicodedata.normalize("NFKC", username).casefold()
    with engine.connect() as conn:
        found = conn.execute(select(users).where(users.c.username_canonical == canonical)).first()
    return found._mapping if found else None


def user_count(app: Flask) -> int:
    engine = app.extensions["secureflaskauth"].engine
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def fullwidth(text: str) -> str:
    """ASCII letters, digits and punctuation in their fullwidth forms (U+FF01 to U+FF5E)."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def test_created_with_the_seed_answer_and_stored(app: Flask, client: FlaskClient) -> None:
    username = unique_username("Alice.Cohen")
    response = post(client, username=username)
    assert response.status_code == 201
    body = response.get_json()
    assert body == {"message": "User registered successfully.", "user_id": body["user_id"]}
    assert str(uuid.UUID(body["user_id"])) == body["user_id"]
    stored = row(app, username)
    assert stored is not None
    assert stored["id"] == body["user_id"]
    assert stored["username"] == username
    assert stored["username_canonical"] == username.lower()
    assert stored["disabled"] is False
    assert stored["otp_failures"] == 0


def test_password_is_stored_as_argon2id_never_plaintext(app: Flask, client: FlaskClient) -> None:
    username = unique_username()
    assert post(client, username=username).status_code == 201
    stored = row(app, username)
    assert stored is not None
    password_hash = stored["password_hash"]
    assert password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in password_hash
    assert PASSWORD.encode().hex() not in password_hash


def sized_username(length: int) -> str:
    username = ("u" + secrets.token_hex(4)).ljust(length, "x")[:length]
    assert len(username) == length
    return username


def test_username_length_limits_are_allowed(app: Flask, client: FlaskClient) -> None:
    for length in (8, 64):
        username = sized_username(length)
        assert post(client, username=username).status_code == 201, length
        assert row(app, username) is not None


def test_username_too_short_or_long(app: Flask, client: FlaskClient) -> None:
    for length in (7, 65):
        username = sized_username(length)
        errors = field_errors(post(client, username=username))
        assert set(errors) == {"username"}, length
        assert "8 to 64" in errors["username"][0]
        assert row(app, username) is None


def test_username_with_bad_characters(app: Flask, client: FlaskClient) -> None:
    before = user_count(app)
    for bad in ["user name1", "user@name1", "user\U0001f600name", "user/name1", "user+name1"]:
        errors = field_errors(post(client, username=bad + secrets.token_hex(2)))
        assert set(errors) == {"username"}, bad
        assert "letters, digits" in errors["username"][0]
    assert user_count(app) == before


def test_username_with_letters_of_other_scripts_is_allowed(client: FlaskClient) -> None:
    # Digits belong to every script; Latin letters would mix scripts.
    assert post(client, username="דניאל.כהן_" + str(secrets.randbelow(10**4))).status_code == 201
    assert post(client, username="Zoë-Ünal." + secrets.token_hex(2)).status_code == 201


def test_duplicate_username_in_any_case_or_width(app: Flask, client: FlaskClient) -> None:
    username = unique_username("Dana.Levi")
    assert post(client, username=username).status_code == 201
    for same in [username, username.upper(), username.lower(), fullwidth(username)]:
        body = problem(post(client, username=same), 409)
        assert body["type"].endswith("username-taken"), same
    engine = app.extensions["secureflaskauth"].engine
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(users)
            .where(users.c.username_canonical == username.lower())
        ).scalar_one()
    assert count == 1


def test_fullwidth_username_is_stored_in_its_plain_form(app: Flask, client: FlaskClient) -> None:
    username = unique_username("wide")
    assert post(client, username=fullwidth(username)).status_code == 201
    stored = row(app, username)
    assert stored is not None
    assert stored["username"] == username


def test_password_too_short_or_long(app: Flask, client: FlaskClient) -> None:
    for length in (7, 129):
        username = unique_username()
        password = ("Zq9!k" * 30)[:length]
        errors = field_errors(post(client, username=username, password=password))
        assert set(errors) == {"password"}, length
        assert row(app, username) is None


def test_password_length_limits_are_allowed(client: FlaskClient) -> None:
    for length in (8, 128):
        password = ("Zq9!k" * 30)[:length]
        assert post(client, password=password).status_code == 201, length


def test_long_password_is_never_truncated(client: FlaskClient) -> None:
    username = unique_username()
    password = "".join(secrets.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(100))
    assert post(client, username=username, password=password).status_code == 201
    first_72 = client.post("/auth/login", json={"username": username, "password": password[:72]})
    assert problem(first_72, 401)["type"].endswith("invalid-credentials")
    first_99 = client.post("/auth/login", json={"username": username, "password": password[:99]})
    assert first_99.status_code == 401
    whole = client.post("/auth/login", json={"username": username, "password": password})
    assert whole.status_code == 200


def test_common_password_is_refused(app: Flask, client: FlaskClient) -> None:
    for password in ["password123", "iloveyou1234", "PassWord123", "qwertyuiop"]:
        username = unique_username()
        errors = field_errors(post(client, username=username, password=password))
        assert set(errors) == {"password"}, password
        assert "common" in errors["password"][0]
        assert row(app, username) is None


def test_password_containing_the_username_is_refused(app: Flask, client: FlaskClient) -> None:
    username = unique_username("noa.katz")
    for password in [f"my {username} pw", f"{username.upper()}!!", f"xx{username}"]:
        errors = field_errors(post(client, username=username, password=password))
        assert set(errors) == {"password"}, password
        assert "username" in errors["password"][0]
    assert row(app, username) is None


def test_password_with_control_characters_is_refused(client: FlaskClient) -> None:
    for password in ["bell\x07character", "new\nline-password", "nul\x00character"]:
        errors = field_errors(post(client, password=password))
        assert set(errors) == {"password"}, repr(password)
        assert "printable" in errors["password"][0]


def test_password_is_nfc_normalised(client: FlaskClient) -> None:
    username = unique_username()
    composed = "päßwörd-čšž-ünïcode"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert post(client, username=username, password=decomposed).status_code == 201
    response = client.post("/auth/login", json={"username": username, "password": composed})
    assert response.status_code == 200


def test_both_phone_forms_are_stored_identically(app: Flask, client: FlaskClient) -> None:
    local, international, spaced = (unique_username() for _ in range(3))
    assert post(client, username=local, phone_number="0508464336").status_code == 201
    assert post(client, username=international, phone_number="+972508464336").status_code == 201
    assert post(client, username=spaced, phone_number="050-846-4336").status_code == 201
    stored = [row(app, name) for name in (local, international, spaced)]
    assert [r["phone_e164"] if r else None for r in stored] == ["+972508464336"] * 3


def test_landline_or_garbage_phone_is_refused(app: Flask, client: FlaskClient) -> None:
    bad = ["026251111", "036408888", "abc", "12345", "0508464336999", "+97250846433", "", "0" * 40]
    for phone in bad:
        username = unique_username()
        errors = field_errors(post(client, username=username, phone_number=phone))
        assert set(errors) == {"phone_number"}, phone
        assert row(app, username) is None


def test_landline_is_refused_with_a_mobile_message(client: FlaskClient) -> None:
    errors = field_errors(post(client, phone_number="026251111"))
    assert "mobile" in errors["phone_number"][0]


def test_every_bad_field_is_reported_at_once(app: Flask, client: FlaskClient) -> None:
    before = user_count(app)
    errors = field_errors(post(client, username="a b", password="short", phone_number="nope"))
    assert set(errors) == {"username", "password", "phone_number"}
    assert len(errors["username"]) == 2  # too short and a bad character
    assert user_count(app) == before


def test_unknown_field_is_refused_and_nothing_stored(app: Flask, client: FlaskClient) -> None:
    before = user_count(app)
    username = unique_username()
    errors = field_errors(post(client, username=username, is_admin=True))
    assert errors == {"is_admin": ["Unknown field."]}
    assert row(app, username) is None
    assert user_count(app) == before


def test_missing_field(app: Flask, client: FlaskClient) -> None:
    for missing in ["username", "password", "phone_number"]:
        body = {"username": unique_username(), "password": PASSWORD, "phone_number": PHONE}
        del body[missing]
        errors = field_errors(client.post("/auth/register", json=body))
        assert errors == {missing: ["This field is required."]}
    assert user_count(app) == 0


def test_empty_object_reports_every_field(client: FlaskClient) -> None:
    errors = field_errors(client.post("/auth/register", json={}))
    assert set(errors) == {"username", "password", "phone_number"}


def test_wrong_types_are_refused(app: Flask, client: FlaskClient) -> None:
    for value in [12345678, 1.5, None, ["abcdefgh"], {"a": "b"}, True, False]:
        for field in ["username", "password", "phone_number"]:
            errors = field_errors(post(client, **{field: value}))
            assert errors == {field: ["Must be a string."]}, (field, value)
    assert user_count(app) == 0


# -- usernames: RFC 8265 forms, and names that could pass for others (UTS #39) --------


def test_a_name_longer_once_case_folded_is_refused_not_a_server_error(
    app: Flask, client: FlaskClient
) -> None:
    # "ß" folds to "ss": 33 are 66 characters in the canonical form, whose column holds
    # 64 (PostgreSQL refused the row with a 500).
    for name in ["ß" * 33, "ẞ" * 33, "ß" * 31 + "abc"]:
        errors = field_errors(post(client, username=name))
        assert errors == {"username": [usernames.FOLDED_LENGTH]}, name
    assert user_count(app) == 0
    assert post(client, username="ß" * 32).status_code == 201
    assert row(app, "ß" * 32) is not None


def test_invisible_fillers_are_refused(app: Flask, client: FlaskClient) -> None:
    base = unique_username("filler")
    assert post(client, username=base).status_code == 201
    for filler in ["\u3164", "\u115f", "\u1160", "\uffa0"]:
        for name in [base + filler, base[:4] + filler + base[4:], filler * 8]:
            errors = field_errors(post(client, username=name))
            assert errors == {"username": [usernames.INVISIBLE]}, ascii(name)
    assert user_count(app) == 1


def test_mixed_script_look_alikes_are_refused(app: Flask, client: FlaskClient) -> None:
    latin = unique_username("alice.cohen")
    assert post(client, username=latin).status_code == 201
    for swap in [("a", "\u0430"), ("o", "\u043e"), ("e", "\u0435"), ("c", "\u0441")]:
        look_alike = latin.replace(*swap)
        errors = field_errors(post(client, username=look_alike))
        assert errors == {"username": [usernames.MIXED_SCRIPTS]}, ascii(look_alike)
    assert user_count(app) == 1


def test_a_name_in_another_script_that_reads_as_latin_is_refused(
    app: Flask, client: FlaskClient
) -> None:
    # Cyrillic "соре.сосо" and "ВЕРА.ХАОС" read as the Latin "cope.coco", "BEPA.XAOC".
    for name in [
        "\u0441\u043e\u0440\u0435.\u0441\u043e\u0441\u043e",
        "\u0412\u0415\u0420\u0410.\u0425\u0410\u041e\u0421",
    ]:
        errors = field_errors(post(client, username=name))
        assert errors == {"username": [usernames.LOOKS_LATIN]}, ascii(name)
    assert user_count(app) == 0
    # The same script is welcome when it does not imitate Latin: "вера.петрова".
    assert (
        post(
            client, username="\u0432\u0435\u0440\u0430.\u043f\u0435\u0442\u0440\u043e\u0432\u0430"
        ).status_code
        == 201
    )


def test_case_width_and_composition_variants_collide(app: Flask, client: FlaskClient) -> None:
    tag = secrets.token_hex(2)
    assert post(client, username=f"Straße.{tag}").status_code == 201
    assert post(client, username=f"Élodie.{tag}").status_code == 201
    for same in [
        f"STRASSE.{tag}",
        f"strasse.{tag}",
        f"STRAẞE.{tag}",
        fullwidth(f"strasse.{tag}"),
        f"E\u0301LODIE.{tag}",
        f"\u00e9lodie.{tag}",
    ]:
        body = problem(post(client, username=same), 409)
        assert body["type"].endswith("username-taken"), ascii(same)
    assert user_count(app) == 2


def test_users_stored_under_earlier_rules_still_sign_in(app: Flask, client: FlaskClient) -> None:
    # Names registered before the rules above (fillers, a mixed script) keep the canonical
    # form they were stored with, and signing in with the name as typed finds them.
    wiring = app.extensions["secureflaskauth"]
    tag = secrets.token_hex(2)
    for typed in [f"old\u3164filler.{tag}", f"\u0430lice.old.{tag}", f"Groß.Old.{tag}"]:
        nfkc = unicodedata.normalize("NFKC", typed)
        wiring.users.add(
            User(
                id=str(uuid.uuid4()),
                username=nfkc,
                username_canonical=unicodedata.normalize("NFKC", nfkc.casefold()),
                password_hash=wiring.signin.hasher.hash(PASSWORD),
                phone_e164="+972508464336",
                created_at=time.time(),
            )
        )
        for attempt in (typed, nfkc, typed.upper()):
            response = client.post("/auth/login", json={"username": attempt, "password": PASSWORD})
            assert response.status_code == 200, (ascii(attempt), response.get_json())


def test_a_name_that_reads_like_a_registered_one_is_taken(client: FlaskClient) -> None:
    """UTS #39 skeletons: 1 for l, capital I for l, a dotless i, r n for m collide."""
    suffix = secrets.token_hex(3)
    assert post(client, username=f"paul.martin.{suffix}").status_code == 201
    for look_alike in (
        f"pauI.martin.{suffix}",
        f"pau1.martin.{suffix}",
        f"paul.mart\u0131n.{suffix}",
        f"paul.rnartin.{suffix}",
    ):
        body = problem(post(client, username=look_alike), 409)
        assert body["detail"] == "That username is already taken, or reads like one that is."
