"""/dev/outbox: the SMS messages of the development outbox.

Registered in development mode only, and on a non-loopback bind only when
SFA_DEV_OUTBOX_PUBLIC=true: it shows every code to whoever can reach it.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template_string, request

from secureflaskauth import wiring
from secureflaskauth.api.errors import problem
from secureflaskauth.domain.clock import iso_utc

bp = Blueprint("dev", __name__, url_prefix="/dev")

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


@bp.get("/outbox")
def outbox() -> Response | str:
    box = wiring.current().outbox
    if box is None:
        abort(404)
    messages = [{"to": m.to, "body": m.body, "sent_at": iso_utc(m.sent_at)} for m in box.recent()]
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    if best == "application/json" or request.args.get("format") == "json":
        response = jsonify(messages)
    else:
        response = Response(render_template_string(_PAGE, messages=messages), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


# Development on a non-loopback bind with the outbox off: say why, not just 404.
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
