"""Passkeys (CONTRACT: Second factors) with a software authenticator: registration,
the second step after the password, sign-in with the passkey alone; each origin, RP
ID, challenge, counter and credential that is not right is refused, and refusals
count like wrong codes. On SQLite and on PostgreSQL with Redis."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_account import me
from tests.api.test_metrics import scrape
from tests.api.test_password_change import outbox
from tests.api.test_password_reset import NEW, forgot, login_status, reset
from tests.api.test_refresh import bearer, claims, query, wiring_of
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, login, register, sign_in
from tests.fakes.authenticator import SoftAuthenticator
from tests.helpers import problem


def creation_options(
    client: FlaskClient,
    token: str,
    password: str = PASSWORD,
    holder: SoftAuthenticator | None = None,
) -> TestResponse:
    """The creation options; ``holder``: the account's passkey, for the step-up."""
    body: dict[str, Any] = {"password": password}
    if holder is not None:
        body["webauthn"] = step_up(client, token, holder)
    return client.post("/auth/factors/webauthn/options", json=body, headers=bearer(token))


def add(
    client: FlaskClient, token: str, credential: dict[str, Any], label: str = "Laptop"
) -> TestResponse:
    return client.post(
        "/auth/factors/webauthn",
        json={"credential": credential, "label": label},
        headers=bearer(token),
    )


def with_passkey(
    client: FlaskClient, authenticator: SoftAuthenticator | None = None
) -> tuple[str, str, SoftAuthenticator]:
    """An account with a passkey: its username, a token and the authenticator."""
    authenticator = authenticator or SoftAuthenticator()
    username = register(client)
    token = sign_in(client, username)
    options = creation_options(client, token)
    assert options.status_code == 200, options.get_json()
    added = add(client, token, authenticator.register(options.get_json()))
    assert added.status_code == 201, added.get_json()
    return username, token, authenticator


def request_options(client: FlaskClient, session_id: str | None = None) -> dict[str, Any]:
    body = {"session_id": session_id} if session_id is not None else {}
    response = client.post("/auth/webauthn/options", json=body)
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    options: dict[str, Any] = response.get_json()
    return options


def verify(
    client: FlaskClient, credential: dict[str, Any], session_id: str | None = None
) -> TestResponse:
    body: dict[str, Any] = {"credential": credential}
    if session_id is not None:
        body["session_id"] = session_id
    return client.post("/auth/webauthn/verify", json=body)


def second_step(
    client: FlaskClient, username: str, authenticator: SoftAuthenticator, **wrong: Any
) -> TestResponse:
    session_id = login(client, username)["session_id"]
    options = request_options(client, session_id)
    return verify(client, authenticator.assert_(options, **wrong), session_id)


def passwordless(
    client: FlaskClient, authenticator: SoftAuthenticator, **wrong: Any
) -> TestResponse:
    return verify(client, authenticator.assert_(request_options(client), **wrong))


def step_up(client: FlaskClient, token: str, authenticator: SoftAuthenticator) -> dict[str, Any]:
    """An assertion over a step-up challenge of the token's account, for ``webauthn``."""
    options = client.post("/auth/webauthn/step-up", headers=bearer(token))
    assert options.status_code == 200, options.get_json()
    assert options.headers["Cache-Control"] == "no-store"
    return authenticator.assert_(options.get_json())


def test_registration_asks_for_a_discoverable_credential_and_notices_it(
    app: Flask, client: FlaskClient
) -> None:
    username = register(client)
    token = sign_in(client, username)
    problem(creation_options(client, token, "wrong password"), 401)
    response = creation_options(client, token)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    options = response.get_json()
    assert options["rp"] == {"id": "localhost", "name": "SecureFlaskAuth"}
    assert options["user"]["name"] == username
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["attestation"] == "none"
    assert options["excludeCredentials"] == []
    assert {p["alg"] for p in options["pubKeyCredParams"]} >= {-7, -8}

    authenticator = SoftAuthenticator()
    added = add(client, token, authenticator.register(options))
    assert added.status_code == 201, added.get_json()
    factor_id = added.get_json()["factor_id"]
    assert "passkey was added" in outbox(client)[0]["body"]
    listed = client.get("/auth/factors", headers=bearer(token)).get_json()
    assert [(f["id"], f["type"], f["label"]) for f in listed][1:] == [
        (factor_id, "webauthn", "Laptop")
    ]
    assert me(client, token)["factors"] == ["sms", "webauthn"]
    # Kept: the credential's digest as handle, the counter, the backup flags.
    row = query(app, "SELECT handle, counter, data FROM factors WHERE id = :i", i=factor_id)[0]
    assert row["handle"].startswith("webauthn:") and row["counter"] == 0
    assert '"backup_eligible": false' in row["data"] and '"backed_up": false' in row["data"]
    # The next options exclude it: the same authenticator makes no second one.
    again = creation_options(client, token, holder=authenticator).get_json()
    assert [c["id"] for c in again["excludeCredentials"]] == [authenticator.id]


def test_the_second_step_sends_no_sms_and_its_token_says_hwk_and_mfa(
    client: FlaskClient,
) -> None:
    username, _, authenticator = with_passkey(client)
    before = len(outbox(client))
    started = login(client, username)
    assert started["method"] == "webauthn"
    assert started["methods"] == ["webauthn", "sms"]
    assert started["sent_to"] is None
    assert len(outbox(client)) == before  # no SMS
    options = request_options(client, started["session_id"])
    assert options["rpId"] == "localhost"
    assert options["userVerification"] == "preferred"
    assert [c["id"] for c in options["allowCredentials"]] == [authenticator.id]
    response = verify(client, authenticator.assert_(options), started["session_id"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"message", "access_token", "token_type", "expires_in", "refresh_token"}
    assert claims(body["access_token"])["amr"] == ["pwd", "hwk", "mfa"]
    assert client.get("/auth/private", headers=bearer(body["access_token"])).status_code == 200
    # The sign-in is used up.
    problem(verify(client, authenticator.assert_(options), started["session_id"]), 401)


def test_a_passkey_alone_signs_in_with_user_verification(client: FlaskClient) -> None:
    _, _, authenticator = with_passkey(client, SoftAuthenticator(backup_eligible=True))
    options = request_options(client)
    assert options["allowCredentials"] == []  # the browser offers what it holds
    assert options["userVerification"] == "required"
    response = verify(client, authenticator.assert_(options))
    assert response.status_code == 200, response.get_json()
    # A synced passkey (BE set): a software-secured key.
    assert claims(response.get_json()["access_token"])["amr"] == ["swk", "user", "mfa"]

    authenticator.user_verified = False
    refused = problem(passwordless(client, authenticator), 401)
    assert refused["type"].endswith(":passkey-refused")


def test_the_second_step_works_without_user_verification(client: FlaskClient) -> None:
    username, _, authenticator = with_passkey(client)
    authenticator.user_verified = False
    response = second_step(client, username, authenticator)
    assert response.status_code == 200, response.get_json()
    assert claims(response.get_json()["access_token"])["amr"] == ["pwd", "hwk", "mfa"]


def test_another_origin_or_rp_id_is_refused_and_counted_as_a_wrong_code(
    client: FlaskClient,
) -> None:
    username, _, authenticator = with_passkey(client)
    session_id = login(client, username)["session_id"]
    remaining = []
    for wrong in ({"origin": "http://localhost.evil.test:5000"}, {"rp_id": "evil.test"}):
        options = request_options(client, session_id)
        refused = problem(verify(client, authenticator.assert_(options, **wrong), session_id), 401)
        assert refused["type"].endswith(":invalid-otp")
        remaining.append(refused["attempts_remaining"])
    assert remaining == [4, 3]
    options = request_options(client, session_id)
    assert verify(client, authenticator.assert_(options), session_id).status_code == 200
    # Alone too.
    for wrong in ({"origin": "https://phish.example"}, {"rp_id": "phish.example"}):
        problem(passwordless(client, authenticator, **wrong), 401)


def test_a_challenge_is_taken_once_and_only_for_what_it_was_issued_for(
    client: FlaskClient,
) -> None:
    username, _, authenticator = with_passkey(client)
    # Replayed alone: the first one signs in, the same assertion again does not.
    assertion = authenticator.assert_(request_options(client))
    assert verify(client, assertion).status_code == 200
    assert problem(verify(client, assertion), 401)["type"].endswith(":passkey-refused")
    # A challenge made up by the client, or issued for a sign-in alone, is no second step.
    session_id = login(client, username)["session_id"]
    made_up = authenticator.assert_({"challenge": "AAAAAAAAAAAAAAAAAAAAAA"})
    problem(verify(client, made_up, session_id), 401)
    alone = authenticator.assert_(request_options(client))
    problem(verify(client, alone, session_id), 401)
    # Nor the reverse: a second step's challenge does not sign in alone.
    step = authenticator.assert_(request_options(client, session_id))
    problem(verify(client, step), 401)


def test_the_same_assertion_sent_at_once_signs_in_once(app: Flask, client: FlaskClient) -> None:
    _, _, authenticator = with_passkey(client)
    assertion = authenticator.assert_(request_options(client))
    barrier = threading.Barrier(8)

    def attempt(_: int) -> int:
        own = app.test_client()
        barrier.wait(timeout=30)
        return verify(own, assertion).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(8)))
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == 7, statuses


def test_a_sign_counter_that_goes_back_is_refused_unless_it_stays_zero(
    app: Flask, client: FlaskClient
) -> None:
    username, _, authenticator = with_passkey(client)
    assert second_step(client, username, authenticator).status_code == 200  # count 1
    assert passwordless(client, authenticator).status_code == 200  # count 2
    # A clone that has counted less (or as much) is refused.
    problem(passwordless(client, authenticator, count=2), 401)
    problem(second_step(client, username, authenticator, count=1), 401)
    stored = query(app, "SELECT counter FROM factors WHERE type = 'webauthn'")
    assert [r["counter"] for r in stored] == [2]
    assert passwordless(client, authenticator).status_code == 200  # count 5 > 2

    # An authenticator that does not count (always 0) keeps working.
    _, _, still = with_passkey(client, SoftAuthenticator(counting=False))
    assert passwordless(client, still).status_code == 200
    assert passwordless(client, still).status_code == 200
    # ...but once it has counted, 0 is a regression.
    problem(passwordless(client, authenticator, count=0), 401)
    events = query(app, "SELECT detail FROM audit_events WHERE event = 'passkey_refused'")
    assert any("sign counter went from" in e["detail"] for e in events)


def test_a_credential_is_registered_once(client: FlaskClient) -> None:
    _, token, authenticator = with_passkey(client)
    # The same credential again, on the same account or another.
    options = creation_options(client, token, holder=authenticator).get_json()
    refused = problem(add(client, token, authenticator.register(options)), 422)
    assert "registered already" in refused["errors"]["credential"][0]
    other = sign_in(client, register(client))
    options = creation_options(client, other).get_json()
    refused = problem(add(client, other, authenticator.register(options)), 422)
    assert "registered already" in refused["errors"]["credential"][0]
    listed = client.get("/auth/factors", headers=bearer(other)).get_json()
    assert [f["type"] for f in listed] == ["sms"]


def test_registration_refuses_another_origin_rp_id_or_challenge(client: FlaskClient) -> None:
    token = sign_in(client, register(client))
    other = sign_in(client, register(client))
    options = creation_options(client, token).get_json()
    for wrong in (
        {"origin": "https://evil.test"},
        {"rp_id": "evil.test"},
        {"challenge": creation_options(client, other).get_json()["challenge"]},
    ):
        credential = SoftAuthenticator().register(options, **wrong)
        refused = problem(add(client, token, credential), 422)
        assert list(refused["errors"]) == ["credential"]
    # Each refusal above took the challenge: even a right response cannot use it now.
    problem(add(client, token, SoftAuthenticator().register(options)), 422)
    malformed = problem(add(client, token, {"id": "x", "response": {}}), 422)
    assert list(malformed["errors"]) == ["credential"]
    assert [f["type"] for f in client.get("/auth/factors", headers=bearer(token)).get_json()] == [
        "sms"
    ]


def test_another_accounts_passkey_is_no_second_step(client: FlaskClient) -> None:
    _, _, theirs = with_passkey(client)
    username, _, _ = with_passkey(client)
    refused = problem(second_step(client, username, theirs), 401)
    assert refused["attempts_remaining"] == 4
    # Alone, a user handle naming another account is refused too.
    _, _, mine = with_passkey(client)
    problem(passwordless(client, mine, user_handle=theirs.user_handle), 401)


def test_refused_passkeys_alone_reach_the_accounts_code_lock(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(lockout_threshold=50)
    client = app.test_client()
    username, _, authenticator = with_passkey(client)
    for _ in range(9):  # SFA_OTP_ACCOUNT_MAX_FAILURES is 10
        problem(passwordless(client, authenticator, origin="https://evil.test"), 401)
    response = passwordless(client, authenticator, origin="https://evil.test")
    assert "locked" in problem(response, 401)["detail"]
    assert int(response.headers["Retry-After"]) > 0
    # Locked: the right passkey too, and the password.
    assert "locked" in problem(passwordless(client, authenticator), 401)["detail"]
    problem(client.post("/auth/login", json={"username": username, "password": PASSWORD}), 429)


def test_removing_the_passkey_brings_back_the_sms(client: FlaskClient) -> None:
    username, token, authenticator = with_passkey(client)
    factor_id = client.get("/auth/factors", headers=bearer(token)).get_json()[1]["id"]
    response = client.delete(
        f"/auth/factors/{factor_id}",
        json={"password": PASSWORD, "webauthn": step_up(client, token, authenticator)},
        headers=bearer(token),
    )
    assert response.status_code == 204
    assert "passkey was removed" in outbox(client)[0]["body"]
    started = login(client, username)
    assert started["method"] == "sms" and started["methods"] == ["sms"]
    problem(passwordless(client, authenticator), 401)
    refused = problem(
        client.post("/auth/webauthn/options", json={"session_id": started["session_id"]}), 422
    )
    assert list(refused["errors"]) == ["session_id"]


def test_sign_ins_by_passkey_are_counted_as_webauthn_and_sms_saved(client: FlaskClient) -> None:
    username, _, authenticator = with_passkey(client)
    before = scrape(client)
    assert second_step(client, username, authenticator).status_code == 200
    assert passwordless(client, authenticator).status_code == 200
    after = scrape(client)
    for sample in ("sfa_signins_total", "sfa_sms_saved_total"):
        assert after.value(sample, method="webauthn") - before.value(sample, method="webauthn") == 2


def test_malformed_requests_are_422_not_500(client: FlaskClient) -> None:
    bodies: list[dict[str, Any]] = [
        {"credential": {}},
        {"credential": {"id": 1}},
        {
            "credential": {
                "id": "a",
                "rawId": "a",
                "type": "public-key",
                "response": {"clientDataJSON": "!!", "authenticatorData": "", "signature": ""},
            }
        },
        {"session_id": "x" * 500, "credential": {}},
        # Client data nested deeper than any parser recurses: a refusal, not a crash.
        {"credential": _deep_client_data()},
    ]
    for body in bodies:
        problem(client.post("/auth/webauthn/verify", json=body), 422)
    reset = {"session_id": "x" * 43, "otp": "123456", "new_password": PASSWORD + "!"}
    problem(
        client.post("/auth/password/reset", json={**reset, "webauthn": _deep_client_data()}), 422
    )
    problem(client.post("/auth/webauthn/options", json={"session_id": 5}), 422)
    problem(client.post("/auth/webauthn/options", json={"session_id": "unknown"}), 401)


def _deep_client_data() -> dict[str, Any]:
    nested = base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).decode().rstrip("=")
    return {
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {"clientDataJSON": nested, "authenticatorData": "AAAA", "signature": "AAAA"},
        "clientExtensionResults": {},
    }


def test_a_challenge_lives_two_minutes(client: FlaskClient, clock: FrozenClock) -> None:
    username, token, authenticator = with_passkey(client)
    options = request_options(client)
    clock.advance(121)
    problem(verify(client, authenticator.assert_(options)), 401)
    session_id = login(client, username)["session_id"]
    options = request_options(client, session_id)
    clock.advance(121)
    problem(verify(client, authenticator.assert_(options), session_id), 401)
    creation = creation_options(client, token, holder=authenticator).get_json()
    clock.advance(121)
    problem(add(client, token, SoftAuthenticator().register(creation)), 422)


def reset_options(client: FlaskClient, session_id: str) -> dict[str, Any]:
    response = client.post("/auth/password/reset/options", json={"session_id": session_id})
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    options: dict[str, Any] = response.get_json()
    return options


def test_a_reset_of_an_account_with_a_passkey_needs_it_or_a_recovery_code(
    client: FlaskClient,
) -> None:
    username, token, authenticator = with_passkey(client)
    issued = client.post(
        "/auth/recovery-codes",
        json={"password": PASSWORD, "webauthn": step_up(client, token, authenticator)},
        headers=bearer(token),
    )
    assert issued.status_code == 200, issued.get_json()
    codes = issued.get_json()["codes"]
    session_id = forgot(client, username)["session_id"]
    sms = last_code(client)
    # Whoever holds the phone alone (a SIM swap) cannot reset: said once the SMS code is right.
    alone = problem(reset(client, session_id, sms), 422)
    assert list(alone["errors"]) == ["webauthn"]
    assert "/auth/password/reset/options" in alone["errors"]["webauthn"][0]
    assert login_status(client, username, PASSWORD) == 200
    done = reset(client, session_id, sms, recovery_code=codes[0])
    assert done.status_code == 204, done.get_json()
    assert login_status(client, username, NEW) == 200
    assert login_status(client, username, PASSWORD) == 401


def test_an_operators_reset_of_a_passkey_account_without_recovery_codes_is_done_with_it(
    app: Flask, client: FlaskClient
) -> None:
    """The account signs in with its passkey and has no recovery codes: the reset an
    operator requires (`users reset-password`) is completed with the SMS code and the
    passkey, the factor the account has, never with the SMS code alone."""
    username, _, authenticator = with_passkey(client)
    wiring = wiring_of(app)
    user = wiring.users.by_canonical_username(username)
    assert user is not None and wiring.accounts.recovery.remaining(user.id) == 0
    wiring.accounts.require_password_reset(user, by="test")
    refused = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert problem(refused, 403)["type"].endswith("password-reset-required")

    session_id = forgot(client, username)["session_id"]
    sms = last_code(client)
    assert list(problem(reset(client, session_id, sms), 422)["errors"]) == ["webauthn"]
    options = reset_options(client, session_id)
    assert not options.get("allowCredentials")  # it names no passkey of the account
    done = reset(client, session_id, sms, webauthn=authenticator.assert_(options))

    assert done.status_code == 204, done.get_json()
    assert login_status(client, username, PASSWORD) == 401
    # The new password signs in again, the passkey as ever for the second step.
    session_id = login(client, username, NEW)["session_id"]
    signed = verify(client, authenticator.assert_(request_options(client, session_id)), session_id)
    assert signed.status_code == 200, signed.get_json()
    details = [
        json.loads(row["detail"])
        for row in query(
            app,
            "SELECT detail FROM audit_events WHERE event = 'password_reset' AND outcome = "
            "'success'",
        )
    ]
    assert [d["webauthn"] for d in details] == [True]


def test_a_reset_takes_no_passkey_but_the_accounts_over_its_own_options(
    client: FlaskClient,
) -> None:
    username, _, authenticator = with_passkey(client)
    _, _, stranger = with_passkey(client)  # another account's passkey
    session_id = forgot(client, username)["session_id"]
    sms = last_code(client)
    options = reset_options(client, session_id)
    # Options are handed out alike for any session id, a made-up one included.
    other = reset_options(client, "no-such-reset")
    assert set(other) == set(options) and other["challenge"] != options["challenge"]

    refused = [
        stranger.assert_(options),  # a passkey, but not this account's
        authenticator.assert_(other),  # over options bound to another reset
        authenticator.assert_(options),  # over options taken by a try already
        authenticator.assert_(
            reset_options(client, session_id), origin="https://evil.example"
        ),  # relayed by a look-alike site
    ]
    answers = [problem(reset(client, session_id, sms, webauthn=w), 401) for w in refused]
    assert [a["attempts_remaining"] for a in answers] == [4, 3, 2, 1]  # wrong codes, counted
    assert {a["detail"] for a in answers} == {"The passkey was not accepted."}
    assert login_status(client, username, PASSWORD) == 200
    # Malformed, or given with another proof: refused before any try is taken.
    problem(reset(client, session_id, sms, webauthn={"id": "x"}), 422)
    both = problem(
        reset(client, session_id, sms, webauthn=authenticator.assert_(options), totp="123456"),
        422,
    )
    assert set(both["errors"]) == {"webauthn", "totp"}
    fresh = reset_options(client, session_id)
    done = reset(client, session_id, sms, webauthn=authenticator.assert_(fresh))
    assert done.status_code == 204, done.get_json()


def test_with_sms_only_off_a_passkey_stands_in_for_a_recovery_code(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(reset_with_sms_only="off").test_client()
    username, _, authenticator = with_passkey(client)
    session_id = forgot(client, username)["session_id"]
    sms = last_code(client)
    options = reset_options(client, session_id)
    done = reset(client, session_id, sms, webauthn=authenticator.assert_(options))
    assert done.status_code == 204, done.get_json()
    assert login_status(client, username, NEW) == 200
