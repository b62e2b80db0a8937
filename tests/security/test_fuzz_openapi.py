"""Schema-driven input (checklist B-6, B-7): schemathesis reads /openapi.json from the
real server and sends what it generates from it: its deterministic coverage cases
(boundary values, wrong types, missing fields, undeclared methods) and random valid
and invalid requests for every operation, well over 1,000 in total. Every response
must be a non-5xx that conforms to the document (status code, content type, body
schema, headers), invalid input must be refused, and a protected operation must
refuse a request without or with a wrong token.

Checks left out, and why: positive_data_acceptance (a schema-valid registration is
still refused for a common password or a landline number: business rules no schema
states), use_after_free / ensure_resource_availability / object_level_authorization
(stateful checks that need links between operations, which the document has none of).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from werkzeug.test import TestResponse

from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code
from tests.conftest import register as register_in_app
from tests.e2e.conftest import HTTP_TIMEOUT, Account, login, outbox_code, register, verify
from tests.security.conftest import Report, StoreFactory, TunedServer, start_tuned, stop

# A generated request of any operation of the served schema.
FuzzCase = Case[APIOperation[Any, Any, Any, Any]]

pytestmark = pytest.mark.e2e

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    ignored_auth,
]
EXAMPLES = 25  # per mode (valid, invalid) and operation, after its coverage cases
SESSION_ENDING_EXAMPLES = 15  # each needs a sign-in of its own
MIN_REQUESTS = 1000
JSON = "application/json"
# Operations that end the session of the token they are sent with.
ENDS_SESSION = {"POST /auth/logout", "POST /auth/logout-all"}


@pytest.fixture(scope="module")
def fuzz_server(
    new_store: StoreFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TunedServer]:
    """Per-IP limits off (the e2e server already raises the per-account ones), so a
    429 never stands in for the answer the logic would give."""
    directory = tmp_path_factory.mktemp("fuzz")
    server = start_tuned(new_store(directory), directory, {"SFA_RATE_LIMITS": "off"})
    yield server
    stop(server)


@dataclass
class Tokens:
    """Access tokens for the protected operations: one that stays valid, and a fresh
    one (a new sign-in of an account of the operation's own) for every request that
    may end its session."""

    server: TunedServer
    http: requests.Session
    accounts: dict[str, Account] = field(default_factory=dict)
    steady: str = ""
    signed_in: int = 0

    def sign_in(self, purpose: str) -> str:
        if purpose not in self.accounts:
            self.accounts[purpose] = register(self.http, self.server)
        account = self.accounts[purpose]
        session_id = login(self.http, self.server, account)["session_id"]
        self.signed_in += 1
        code = outbox_code(self.http, self.server, account.phone)
        return verify(self.http, self.server, session_id, code)

    def for_case(self, case: FuzzCase) -> dict[str, str]:
        if not case.operation.definition.raw.get("security"):
            return {}
        if case.operation.label in ENDS_SESSION:
            return {"Authorization": f"Bearer {self.sign_in(case.operation.label)}"}
        if not self.steady:
            self.steady = self.sign_in("steady")
        return {"Authorization": f"Bearer {self.steady}"}


@dataclass
class Run:
    server: TunedServer
    tokens: Tokens
    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    def send(self, case: FuzzCase) -> None:
        headers = self.tokens.for_case(case)
        response = case.call(base_url=self.server.base_url, headers=headers, timeout=HTTP_TIMEOUT)
        self.sent[case.operation.label] += 1
        self.statuses[response.status_code] += 1
        case.validate_response(
            response,
            checks=CHECKS,
            headers=headers,
            transport_kwargs={"base_url": self.server.base_url, "timeout": HTTP_TIMEOUT},
        )


def fuzz(run: Run, strategy: Any, examples: int) -> None:
    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,  # no example database: each run generates afresh
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def one(case: FuzzCase) -> None:
        run.send(case)

    one()


def test_generated_requests_get_conforming_answers(
    fuzz_server: TunedServer, report: Report
) -> None:
    schema = schemathesis.openapi.from_url(fuzz_server.url("/openapi.json"), timeout=HTTP_TIMEOUT)
    with requests.Session() as http:
        run = Run(fuzz_server, Tokens(fuzz_server, http))
        results = list(schema.get_all_operations())
        operations = [result.ok() for result in results if isinstance(result, Ok)]
        assert len(operations) == len(results), results  # every operation is a valid schema
        assert len(operations) >= 14
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        for operation in operations:
            generation = schema.config.generation_for(operation=operation, phase="coverage")
            for case in schema.iter_coverage_cases(
                operation, generation_modes=modes, generation_config=generation
            ):
                run.send(case)
            has_inputs = bool(operation.body or operation.path_parameters)
            examples = SESSION_ENDING_EXAMPLES if operation.label in ENDS_SESSION else EXAMPLES
            for mode in modes if has_inputs else modes[:1]:
                fuzz(run, operation.as_strategy(generation_mode=mode), examples)

    total = sum(run.sent.values())
    report(
        f"schemathesis {schemathesis.__version__}: {total} requests over {len(run.sent)} "
        f"operations ({run.tokens.signed_in} sign-ins for tokens); {dict(run.sent)}; answers "
        f"{dict(sorted(run.statuses.items()))}"
    )
    assert total >= MIN_REQUESTS, run.sent
    assert not [status for status in run.statuses if status >= 500]
    # The protected operations were reached with a valid token, not only refused.
    assert run.statuses[200] and run.statuses[204]


# -- the states random input does not reach ------------------------------------------

DOCUMENT_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_answers_of_states_fuzzing_cannot_reach_conform(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    """Delays, locks, a disabled account, cooldowns, caps, a reused refresh token,
    oversized and malformed bodies: each answer is checked against the document."""
    app = make_app(
        lockout_disable_after=10,
        lockout_base_seconds=60,
        lockout_max_seconds=60,
        otp_account_max_failures=3,
    )
    client = app.test_client()
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").get_json())
    seen: set[tuple[str, int]] = set()

    def conforms(method: str, path: str, response: TestResponse, **case: Any) -> TestResponse:
        operation = schema[path][method]
        operation.Case(**case).validate_response(response, checks=DOCUMENT_CHECKS)
        seen.add((f"{method} {path}", response.status_code))
        return response

    def post(path: str, body: dict[str, Any]) -> TestResponse:
        return conforms("POST", path, client.post(path, json=body), body=body)

    username = register_in_app(client)
    wrong_login = {"username": username, "password": "wrong horse battery staple"}
    right_login = {"username": username, "password": PASSWORD}
    session_id = post("/auth/login", right_login).get_json()["session_id"]
    post("/auth/resend-otp", {"session_id": session_id})  # 429: cooldown
    for _ in range(3):
        clock.advance(30)
        post("/auth/resend-otp", {"session_id": session_id})
    post("/auth/resend-otp", {"session_id": session_id})  # 429: no resends left
    code = last_code(client)
    tokens = post("/auth/verify-otp", {"session_id": session_id, "otp": code}).get_json()
    refresh = {"refresh_token": tokens["refresh_token"]}
    post("/auth/refresh", refresh)
    clock.advance(60)
    post("/auth/refresh", refresh)  # 401: reuse of a rotated token

    session_id = post("/auth/login", right_login).get_json()["session_id"]
    wrong = f"{(int(last_code(client)) + 1) % 1_000_000:06d}"
    for _ in range(3):  # the third locks the account's codes
        post("/auth/verify-otp", {"session_id": session_id, "otp": wrong})
    post("/auth/login", right_login)  # 429: locked
    while post("/auth/login", wrong_login).status_code != 423:  # delays, then disabled
        clock.advance(61)

    for path in ("/auth/register", "/auth/login", "/auth/verify-otp", "/auth/refresh"):
        too_large = client.post(path, data=b"{" + b" " * 70_000 + b"}", content_type=JSON)
        conforms("POST", path, too_large, body={})
        conforms("POST", path, client.post(path, data=b"{", content_type=JSON), body={})
        conforms("POST", path, client.post(path, data=b"{}", content_type="text/plain"), body={})

    expected = {
        ("POST /auth/login", 423),
        ("POST /auth/login", 429),
        ("POST /auth/resend-otp", 429),
        ("POST /auth/verify-otp", 401),
        ("POST /auth/refresh", 401),
        ("POST /auth/register", 413),
        ("POST /auth/login", 400),
        ("POST /auth/refresh", 415),
    }
    assert expected <= seen, expected - seen
