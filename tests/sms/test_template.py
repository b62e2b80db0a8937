"""The text of a code message: the template, and the WebOTP line that ends it.

WebOTP (https://wicg.github.io/web-otp/) reads the last line ``@host #code``: a
browser on ``host`` (and the phone's keyboard) offers to fill the code in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import ValidationError

from secureflaskauth.domain import otp
from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.settings import Settings
from tests.conftest import last_code
from tests.sms.flow import assert_signs_in, post_login, register_user

PRODUCTION: dict[str, Any] = {
    "env": "production",
    "sms_backend": "webhook",
    "webhook_url": "https://hooks.example.com/sms",
    "webhook_secret": "w" * 32,
    "secret_key": "k" * 32,
    "database_url": "postgresql://db.example.com/sfa",
    "webauthn_rp_id": "example.com",
    "webauthn_origins": "https://auth.example.com",
    "public_url": "https://auth.example.com",
}

# -- the domain's rules ------------------------------------------------------------


def test_the_default_text_is_unchanged_without_a_host() -> None:
    assert (
        otp.SmsTemplate().render("SecureFlaskAuth", "004217", 300)
        == "SecureFlaskAuth code: 004217. Expires in 5 min. Never share it."
    )


def test_a_host_adds_the_webotp_line_last() -> None:
    text = otp.SmsTemplate(webotp_host="Auth.Example.COM").render("SecureFlaskAuth", "004217", 300)
    assert text == (
        "SecureFlaskAuth code: 004217. Expires in 5 min. Never share it.\n\n"
        "@auth.example.com #004217"
    )
    assert text.splitlines()[-1] == "@auth.example.com #004217"
    # The tests' code reader (and people) still find the code in the first line.
    assert re.search(r"code: (\d{6})", text)


def test_a_template_uses_its_three_placeholders() -> None:
    template = otp.SmsTemplate("{code} is your {app} code ({minutes} min)", "login.example.org")
    assert template.render("Acme", "123456", 600) == (
        "123456 is your Acme code (10 min)\n\n@login.example.org #123456"
    )


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("Your code is coming", "must contain {code}"),
        ("{code} {user}", "not {user}"),
        ("{code} {app.__class__.__name__}", "not {app.__class__.__name__}"),
        ("{code} {0}", "not {0}"),
        ("{code!r}", "no conversion or format spec"),
        ("{code:>20}", "no conversion or format spec"),
        ("{code} {", "not a valid format string"),
        ("{code}" + "x" * 300, "longer than 300"),
    ],
)
def test_a_bad_template_is_refused(template: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        otp.check_sms_template(template)
    with pytest.raises(ValidationError, match=re.escape(reason)):
        Settings(sms_template=template)


@pytest.mark.parametrize(
    "host",
    [
        "https://auth.example.com",
        "auth.example.com:8443",
        "auth.example.com/login",
        "auth example.com",
        "-auth.example.com",
        "auth..example.com",
        "bücher.example",
    ],
)
def test_a_webotp_host_must_be_a_bare_host_name(host: str) -> None:
    with pytest.raises(ValueError, match="not a host name"):
        otp.check_webotp_host(host)
    with pytest.raises(ValidationError):
        Settings(webotp_host=host)


def test_an_empty_webotp_host_is_no_host() -> None:
    assert Settings(webotp_host="  ").sms.webotp_host is None


def test_production_needs_a_webotp_host_or_the_line_off() -> None:
    with pytest.raises(ConfigurationError, match="SFA_WEBOTP_HOST"):
        Settings(**PRODUCTION)
    assert Settings(**PRODUCTION, webotp_host="auth.example.com").sms.webotp_host
    assert not Settings(**PRODUCTION, sms_webotp=False).sms.webotp


# -- through the app (the development outbox) ----------------------------------------


def outbox_bodies(client: FlaskClient) -> list[str]:
    messages = client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json()
    return [m["body"] for m in messages]


@pytest.fixture
def make_client(make_app: Callable[..., Flask]) -> Callable[..., FlaskClient]:
    def factory(**overrides: Any) -> FlaskClient:
        return make_app(**overrides).test_client()

    return factory


def test_the_sent_text_ends_with_the_webotp_line(make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(webotp_host="auth.example.com")
    username, _ = register_user(client)
    session_id = post_login(client, username).get_json()["session_id"]

    [body] = outbox_bodies(client)
    code = last_code(client)
    assert body == (
        f"SecureFlaskAuth code: {code}. Expires in 5 min. Never share it.\n\n"
        f"@auth.example.com #{code}"
    )
    assert_signs_in(client, session_id, code)


def test_the_template_and_app_name_come_from_the_settings(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client(
        app_name="Acme",
        sms_template="{app}: {code} (valid {minutes} min)",
        otp_ttl_seconds=120,
        webotp_host="id.acme.test",
        sms_webotp=False,
    )
    username, _ = register_user(client)
    session_id = post_login(client, username).get_json()["session_id"]

    [body] = outbox_bodies(client)
    match = re.fullmatch(r"Acme: (\d{6}) \(valid 2 min\)", body)
    assert match, body  # and no WebOTP line: it is switched off
    assert_signs_in(client, session_id, match.group(1))


def test_without_a_host_development_sends_no_webotp_line(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client()
    username, _ = register_user(client)
    post_login(client, username)
    [body] = outbox_bodies(client)
    assert "@" not in body and "\n" not in body
