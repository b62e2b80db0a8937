"""Reading a JSON request body strictly into a pydantic model."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from secureflaskauth.api.errors import BadRequestBody, UnsupportedMediaType
from secureflaskauth.domain.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)
MAX_DEPTH = 32


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BadRequestBody(f"Duplicate key in JSON object: {key[:64]!r}.")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise BadRequestBody(f"{name} is not valid JSON.")


def _depth(raw: bytes) -> int:
    """Nesting depth counted without parsing, so a deeply nested body is refused
    before the JSON parser can recurse into it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _encodable(data: Any) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_json(model: type[M]) -> M:
    """Parse the request body as ``model``: 415, 413, 400 or 422 problems otherwise."""
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            "The request body must be JSON (Content-Type: application/json)."
        )
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth(raw) > MAX_DEPTH:
        raise BadRequestBody("The JSON body is nested too deeply.")
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except BadRequestBody:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequestBody("The request body is not valid JSON.") from None
    if b"\\u" in raw and not _encodable(data):
        # A \ud800-style escape decodes to a lone surrogate, which is not text (RFC 7493 2.1).
        raise BadRequestBody("The request body holds an invalid Unicode escape.")
    if not isinstance(data, dict):
        raise ValidationFailed({"body": ["Must be a JSON object."]})
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        raise ValidationFailed(_field_errors(exc)) from None


def _field_errors(exc: ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        if error["type"] == "missing":
            message = "This field is required."
        elif error["type"] == "extra_forbidden":
            message = "Unknown field."
        elif error["type"] == "string_type":
            message = "Must be a string."
        else:
            message = error["msg"]
        errors.setdefault(field, []).append(message)
    return errors
