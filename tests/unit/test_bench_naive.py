"""The naive reference of ``make bench`` accepts the service's tokens, whatever the
settings the bench gives the service (``--set SFA_JWT_...``): a reference that
refuses them would be measured answering 401s."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from bench import naive

from secureflaskauth.domain.tokens import AccessTokens, KeyRing, TokenSettings, generate_key


@pytest.mark.parametrize(
    ("algorithm", "issuer", "audience"),
    [
        ("EdDSA", "secureflaskauth", "secureflaskauth"),
        ("ES256", "secureflaskauth", "secureflaskauth"),
        ("EdDSA", "https://auth.example.test", "example-apps"),
    ],
)
def test_the_naive_reference_accepts_the_services_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, algorithm: str, issuer: str, audience: str
) -> None:
    record = generate_key(algorithm, time.time())
    ring = KeyRing(lambda: [record], time.time)
    tokens = AccessTokens(TokenSettings(issuer, audience, 900, 100), ring, time.time)
    token = tokens.issue(subject="u", session_id="s", amr=["pwd", "sms"]).token
    (tmp_path / "jwks.json").write_text(json.dumps(ring.jwks()))
    monkeypatch.setenv("NAIVE_JWKS", str(tmp_path / "jwks.json"))
    monkeypatch.setenv("SFA_JWT_ALGORITHM", algorithm)
    monkeypatch.setenv("SFA_JWT_ISSUER", issuer)
    monkeypatch.setenv("SFA_JWT_AUDIENCE", audience)

    client = naive.create_app().test_client()
    answer = client.get("/auth/private", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (
        client.get("/auth/private", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )
