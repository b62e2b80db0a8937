"""/signup: the rules of /auth/register, then the code that verifies the number."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_refresh import query
from tests.conftest import last_code, register
from tests.web.test_signin_page import browser_session
from tests.web.visit import Visitor, parse


def test_sign_up_verifies_the_number_with_its_code_and_signs_in(
    app: Flask, client: FlaskClient
) -> None:
    visitor = Visitor(client)
    username, started = visitor.sign_up(next="/account")
    assert started.headers["Location"] == "/signin/code"
    page = parse(visitor.get("/signin/code"))
    assert "Confirm your number" in page.text
    assert "+972*****4336" in page.text
    [user] = query(app, "SELECT * FROM users WHERE username = :u", u=username)
    assert user["phone_verified_at"] is None
    done = visitor.post("/signin/code", {"code": last_code(client)})
    assert done.headers["Location"] == "/account"
    [user] = query(app, "SELECT * FROM users WHERE username = :u", u=username)
    assert user["phone_verified_at"] is not None
    assert browser_session(app, visitor)["user_id"] == user["id"]


def test_field_messages_sit_by_their_fields_and_what_was_typed_stays(
    client: FlaskClient,
) -> None:
    visitor = Visitor(client)
    visitor.get("/signup")
    response = visitor.post(
        "/signup", {"username": "ab", "password": "short", "phone_number": "12"}
    )
    assert response.status_code == 422
    page = parse(response)
    assert "Please correct the fields marked below." in page.text
    for name, message in (
        ("username", "Must be 8 to 64 characters long."),
        ("password", "Must be at least 8 characters long."),
        ("phone_number", "Not a valid phone number."),
    ):
        field = page.one("input", id=name)
        assert field.attrs["aria-invalid"] == "true"
        assert f"{name}-error" in str(field.attrs["aria-describedby"]).split()
        assert message in " ".join(page.texts)
        label = page.one("label", **{"for": name})
        assert label
    assert page.one("input", id="username").attrs["value"] == "ab"
    assert page.one("input", id="phone_number").attrs["value"] == "12"
    assert "value" not in page.one("input", id="password").attrs  # never sent back
    assert "autofocus" in page.one("input", id="username").attrs


def test_a_taken_username_is_said_by_the_username(client: FlaskClient) -> None:
    taken = register(client)
    _, response = Visitor(client).sign_up(taken)
    assert response.status_code == 409
    page = parse(response)
    assert page.one("input", id="username").attrs["aria-invalid"] == "true"
    assert "That username is already taken." in page.text


def test_messages_are_in_hebrew_on_a_hebrew_page(client: FlaskClient) -> None:
    visitor = Visitor(client)
    visitor.get("/signup?lang=he")
    response = visitor.post("/signup", {"username": "ab", "password": "", "phone_number": ""})
    page = parse(response)
    assert page.one("html").attrs == {"lang": "he", "dir": "rtl"}
    assert "חייב להכיל 8 עד 64 תווים." in page.text
    assert "Must be" not in page.text
