"""What the pages' script and the server exchange for a passkey (WebAuthn) ceremony.

The script asks a route of the pages for the options (a POST with the form's CSRF
token, answered in JSON), runs the browser's ceremony, and sends the result back as a
field of an ordinary form (JSON text), so the answer is a page like any other."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, jsonify, request

from secureflaskauth.domain.errors import DomainError, ValidationFailed
from secureflaskauth.web.messages import refusal
from secureflaskauth.web.text import gettext, lazy_gettext

# What a person reads when the browser's answer is no credential at all.
UNREADABLE = lazy_gettext("Your passkey's answer could not be read. Please try again.")


def options(make: Callable[[], Mapping[str, Any]]) -> Response:
    """The options ``make`` gives, or what the person reads when it refuses (JSON
    ``{"message"}`` with the refusal's status)."""
    try:
        found = make()
    except ValidationFailed:
        return _refused(422, gettext("This account has no passkey."))
    except DomainError as error:
        response = _refused(error.status, refusal(error))
        if error.retry_after is not None:
            response.headers["Retry-After"] = str(error.retry_after)
        return response
    return jsonify(dict(found))


def _refused(status: int, message: str) -> Response:
    response = jsonify({"message": message})
    response.status_code = status
    return response


def credential(name: str = "credential") -> dict[str, Any]:
    """The ceremony's result the form carries (the JSON form of a PublicKeyCredential);
    anything else is an empty object, which the domain refuses as malformed."""
    try:
        value = json.loads(request.form.get(name, ""))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
