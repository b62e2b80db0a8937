"""/dev/outbox: the SMS messages of the development outbox.

Registered in development mode only, and on a non-loopback bind only when
SFA_DEV_OUTBOX_PUBLIC=true: it shows every code to whoever can reach it.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template_string, request

from secureflaskauth import wiring
from secureflaskauth.api.answers import NO_STORE, ok
from secureflaskauth.api.errors import problem
from secureflaskauth.api.operations import Routes
from secureflaskauth.api.schemas import OutboxMessage
from secureflaskauth.domain.clock import iso_utc

routes = Routes("dev", __name__, url_prefix="/dev", tag="development")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SMS outbox</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}td,th{padding:.3rem .8rem;
text-align:left;border-bottom:1px solid #ddd}</style></head>
<body><h1>Development SMS outbox</h1>
<p>Messages the service "sent", newest first. Development mode only.</p>
<table><tr><th>Sent at (UTC)</th><th>To</th><th>Message</th></tr>
{% for m in messages %}<tr><td>{{ m.sent_at }}</td><td>{{ m.to }}</td><td>{{ m.body }}</td></tr>
{% else %}<tr><td colspan="3">No messages yet.</td></tr>{% endfor %}
</table></body></html>"""


@routes.route(
    "GET",
    "/outbox",
    summary="SMS messages of the development outbox, newest first",
    description="Development mode only. JSON for `Accept: application/json` (or "
    "`?format=json`), an HTML page for a browser.",
    responses={
        # JSON first: Swagger UI sends the Accept of the media type chosen under the
        # response, which starts at the first listed, so "Try it out" shows JSON.
        200: ok(
            "The messages, newest first.",
            list[OutboxMessage],
            media={"text/html": {"type": "string"}},
        )
    },
    cache=NO_STORE,
)
def outbox() -> Response:
    box = wiring.current().outbox
    if box is None:
        abort(404)
    messages = [{"to": m.to, "body": m.body, "sent_at": iso_utc(m.sent_at)} for m in box.recent()]
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    if best == "application/json" or request.args.get("format") == "json":
        return jsonify(messages)
    return Response(render_template_string(_PAGE, messages=messages), mimetype="text/html")


# Development on a non-loopback bind with the outbox off: say why, not just 404. Not
# an operation of the API (nothing is served here), so not in the OpenAPI document.
off = Blueprint("dev_off", __name__, url_prefix="/dev")


@off.get("/outbox")
def outbox_off() -> Response:
    return problem(
        404,
        "Not found",
        "The development outbox is off: SFA_HOST is not a loopback address, and the "
        "outbox shows every code to anyone who can reach it. The codes are written to "
        "the service's log; SFA_DEV_OUTBOX_PUBLIC=true serves the outbox anyway.",
        slug="not-found",
    )
