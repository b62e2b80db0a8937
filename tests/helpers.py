"""Assertions every test shares: ``problem()`` for an RFC 9457 problem+json answer.

It takes the answer of the Flask test client, of requests (the e2e tests) or of
httpx, so every test checks an error the same way: the status is one of those
expected, the media type is application/problem+json, the body's ``status`` is the
HTTP status, ``type``, ``title`` and ``detail`` are non-empty strings, and no
traceback leaked. It returns the body for the test's own checks.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import requests
from werkzeug.test import TestResponse

PROBLEM_JSON = "application/problem+json"

Response = TestResponse | requests.Response | httpx.Response


def _parts(response: Response) -> tuple[int, str, bytes]:
    """(status, media type, body) of any of the responses the tests get."""
    if isinstance(response, TestResponse):
        return response.status_code, response.mimetype or "", response.get_data()
    content_type = response.headers.get("Content-Type", "")
    return response.status_code, content_type.split(";")[0].strip(), response.content


def problem(response: Response, *statuses: int) -> dict[str, Any]:
    """The problem+json body of ``response``, after checking its status (one of
    ``statuses``) and its shape."""
    assert statuses, "name the status (or statuses) the problem must have"
    status, media_type, raw = _parts(response)
    assert status in statuses, (status, raw[:500])
    assert media_type == PROBLEM_JSON, (media_type, raw[:500])
    text = raw.decode("utf-8")
    assert "Traceback" not in text
    body = json.loads(text)
    assert isinstance(body, dict), body
    assert body["status"] == status
    for member in ("type", "title", "detail"):
        assert isinstance(body[member], str) and body[member], (member, body)
    return body
