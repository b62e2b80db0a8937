"""The OpenAPI 3.1 document, generated from the routes the app serves.

Each route is declared once (api/operations.py): the document walks ``app.url_map``
and describes every declared route from its declaration, so a route that is not
served (the development outbox in production) is not described, and nothing is
described that is not served. Schemas come from the pydantic models.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from pydantic import BaseModel, TypeAdapter
from werkzeug.routing import Rule

from secureflaskauth import __version__
from secureflaskauth.api.answers import Answer, Header
from secureflaskauth.api.errors import PROBLEM_JSON
from secureflaskauth.api.operations import Operation, operation_of
from secureflaskauth.api.schemas import Problem

_REF = "#/components/schemas/{model}"
_EXTENSION = "secureflaskauth.openapi"
_BEARER = "bearerAuth"
# Flask's automatic methods: HEAD answers as GET without a body, OPTIONS lists the methods.
AUTOMATIC_METHODS = frozenset({"HEAD", "OPTIONS"})
_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTERS = {"int": {"type": "integer"}, "float": {"type": "number"}}
_DESCRIPTION = (
    "Password plus SMS one-time-code sign-in that issues short-lived JWTs. Every error "
    "is an RFC 9457 problem (`application/problem+json`) whose `type` names it, and is "
    "never cached (`Cache-Control: no-store`)."
)


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: ``/sessions/<session_id>`` is ``/sessions/{session_id}``."""
    return _ARGUMENT.sub(lambda m: "{" + m["name"] + "}", rule)


def document(app: Flask) -> dict[str, Any]:
    """The document of ``app``, built once per app (its routes are fixed by then)."""
    built: dict[str, Any] | None = app.extensions.get(_EXTENSION)
    if built is None:
        built = app.extensions[_EXTENSION] = _build(app)
    return built


def _build(app: Flask) -> dict[str, Any]:
    schemas = _Schemas()
    schemas.ref(Problem)
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        operation = operation_of(app.view_functions.get(rule.endpoint))
        if operation is None:
            continue
        item = paths.setdefault(openapi_path(rule.rule), {})
        for method in sorted((rule.methods or set()) - AUTOMATIC_METHODS):
            item[method.lower()] = _operation(operation, rule, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "SecureFlaskAuth", "version": __version__, "description": _DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": schemas.found,
            "securitySchemes": {
                _BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _operation(operation: Operation, rule: Rule, schemas: _Schemas) -> dict[str, Any]:
    result: dict[str, Any] = {"tags": [operation.tag], "summary": operation.summary}
    if operation.description:
        result["description"] = operation.description
    parameters = [
        {
            "name": match["name"],
            "in": "path",
            "required": True,
            **(
                {"description": operation.params[match["name"]]}
                if match["name"] in operation.params
                else {}
            ),
            "schema": _CONVERTERS.get(match["converter"] or "", {"type": "string"}),
        }
        for match in _ARGUMENT.finditer(rule.rule)
    ]
    if parameters:
        result["parameters"] = parameters
    if operation.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.ref(operation.body)}},
        }
    if operation.bearer:
        result["security"] = [{_BEARER: []}]
    result["responses"] = {
        str(status): _answer(answer, schemas) for status, answer in operation.answers().items()
    }
    return result


def _answer(answer: Answer, schemas: _Schemas) -> dict[str, Any]:
    result: dict[str, Any] = {"description": answer.description}
    if answer.headers:
        result["headers"] = {name: _header(header) for name, header in answer.headers.items()}
    content: dict[str, Any] = {}
    if answer.problem:
        content[PROBLEM_JSON] = {"schema": schemas.ref(Problem)}
    if answer.model is not None:
        content["application/json"] = {"schema": schemas.ref(answer.model)}
    content.update({media: {"schema": dict(schema)} for media, schema in answer.media.items()})
    if content:
        result["content"] = content
    return result


def _header(header: Header) -> dict[str, Any]:
    result: dict[str, Any] = {"description": header.description, "schema": dict(header.schema)}
    if header.required:
        result["required"] = True
    return result


class _Schemas:
    """The components' schemas, collected as the operations refer to models."""

    def __init__(self) -> None:
        self.found: dict[str, Any] = {}

    def ref(self, model: Any) -> dict[str, Any]:
        """A reference to ``model`` (a pydantic model), or the schema of another type
        (``list[Model]``) whose models become components."""
        if isinstance(model, type) and issubclass(model, BaseModel):
            schema = model.model_json_schema(ref_template=_REF)
            self._add(schema.pop("$defs", {}))
            self._add({model.__name__: schema})
            return {"$ref": _REF.format(model=model.__name__)}
        schema = TypeAdapter(model).json_schema(ref_template=_REF)
        self._add(schema.pop("$defs", {}))
        return schema

    def _add(self, schemas: dict[str, Any]) -> None:
        for name, schema in schemas.items():
            if self.found.setdefault(name, schema) != schema:
                raise ValueError(f"two models are named {name}")
