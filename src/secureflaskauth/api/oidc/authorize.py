"""The authorization endpoint (RFC 6749 4.1.1, OpenID Connect Core 3.1.2): validated by
authlib's grant, then the person's sign-in in this browser decides: none, or one too
old for ``prompt=login`` / ``max_age``, sends them to the hosted sign-in and back;
``prompt=none`` never does (``login_required``). The service is first-party: every
client is the operator's own, so there is no consent screen.

An unknown client or a redirect URI not registered gets a page, never a redirect
(RFC 6749 4.1.2.1); every other error goes back to the client with ``error`` and
``state``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from urllib.parse import quote, urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import (
    ConsentRequiredError,
    LoginRequiredError,
    RequestNotSupportedError,
    RequestURINotSupportedError,
)
from flask import Response, request

from secureflaskauth import wiring
from secureflaskauth.api.oidc import parameters
from secureflaskauth.api.oidc.discovery import AUTHORIZE
from secureflaskauth.api.oidc.server import bad_input, error_page, protocol_error, server
from secureflaskauth.domain.errors import InvalidToken
from secureflaskauth.domain.oidc.reauth import PARAMETER

SIGN_IN = "/signin"
PROMPTS = frozenset({"none", "login", "consent", "select_account"})


class SignedIn(Protocol):
    """The browser's sign-in, as web/browser.py gives it."""

    @property
    def user_id(self) -> str: ...
    @property
    def session_id(self) -> str: ...
    @property
    def auth_time(self) -> int: ...
    @property
    def amr(self) -> tuple[str, ...]: ...


def _params() -> list[tuple[str, str]]:
    """This authorization request's parameters (a POST's form too), without a mark."""
    return [(k, v) for k, vs in request.values.lists() if k != PARAMETER for v in vs]


def _request_url(extra: Sequence[tuple[str, str]] = ()) -> str:
    """This authorization request as a relative GET URL, with ``extra`` added."""
    return f"{AUTHORIZE}?{urlencode([*_params(), *extra])}"


def _sign_in(next_url: str, *, again: bool) -> Response:
    reauth = "reauth=1&" if again else ""
    location = f"{SIGN_IN}?{reauth}next={quote(next_url, safe='')}"
    return Response(status=302, headers={"Location": location})


def _back_to_client(error: OAuth2Error) -> Response:
    """An error redirect to the client, naming the issuer as a code's does (RFC 9207 2)."""
    response = protocol_error(error)
    location = response.headers["Location"]
    issuer = urlencode({"iss": wiring.current().oidc.id_tokens.issuer})
    response.headers["Location"] = f"{location}{'&' if '?' in location else '?'}{issuer}"
    return response


def _refused(error: OAuth2Error) -> Response:
    if error.redirect_uri:
        return _back_to_client(error)
    return error_page(
        400,
        "This sign-in link is not valid",
        f"The app that sent you here made a request the service cannot accept "
        f"({error.error}: {error.description or 'no detail'}). Go back to the app and "
        "try again; if this keeps happening, tell the app's operator.",
    )


def _max_age(grant_redirect: str) -> int | None:
    text = request.values.get("max_age")
    if text is None:
        return None
    if not text.isdigit() or len(text) > 10:
        raise InvalidRequestError(
            "max_age must be a number of seconds.",
            redirect_uri=grant_redirect,
            state=request.values.get("state"),
        )
    return int(text)


def _unsupported(redirect_uri: str) -> None:
    """What the service does not do, refused rather than ignored (Core 6.1, 6.2, 3.1.2.1):
    request objects, prompt values it does not know, and consent, which it has no
    screen for (its clients are the operator's own)."""
    state = request.values.get("state")
    error: OAuth2Error | None = None
    prompts = set(request.values.get("prompt", "").split())
    if "request" in request.values:
        error = RequestNotSupportedError()
    elif "request_uri" in request.values:
        error = RequestURINotSupportedError()
    elif not prompts <= PROMPTS:
        error = InvalidRequestError("prompt holds a value the service does not know.")
    elif "consent" in prompts:
        error = ConsentRequiredError()
    if error is not None:
        error.redirect_uri = redirect_uri
        error.state = state
        raise error


def _hint_names(user_id: str) -> bool:
    """Whether the request's id_token_hint, if any, is a valid ID token of this service
    naming ``user_id`` (Core 3.1.2.1)."""
    token = request.values.get("id_token_hint")
    if token is None:
        return True
    try:
        return wiring.current().oidc.id_tokens.read_hint(token).subject == user_id
    except InvalidToken:
        return False


def authorize(signin: SignedIn | None) -> Response:
    """Answer an authorization request for the browser signed in as ``signin``."""
    refused = parameters.refusal(request.values)
    if refused is not None:
        return _refused(refused)
    try:
        grant = server().get_consent_grant(end_user=signin)
        max_age = _max_age(grant.redirect_uri)
        _unsupported(grant.redirect_uri)
    except OAuth2Error as error:
        return _refused(error)
    except ValueError as exc:  # input authlib's error text may not hold
        return _refused(bad_input(type(exc).__name__))
    client_id = grant.request.client.get_client_id()
    prompts = set(request.values.get("prompt", "").split())
    w = wiring.current()
    params = _params()
    if signin is None:  # marked, so that this sign-in counts as a fresh one
        mark = w.oidc.reauth.mark(client_id, params)
        return _sign_in(_request_url([(PARAMETER, mark)]), again=False)
    asked_at = w.oidc.reauth.asked_at(request.values.get(PARAMETER, ""), client_id, params)
    # Only the sign-in proves itself fresh: completed after this very request asked for it.
    fresh = asked_at is not None and signin.auth_time >= asked_at
    # max_age: the sign-in's age when the request was made (when it asked, with a mark).
    asked = asked_at if fresh and asked_at is not None else w.clock.now()
    too_old = max_age is not None and asked - signin.auth_time > max_age
    other_person = not _hint_names(signin.user_id)
    again = bool(prompts & {"login", "select_account"})
    if (again and not fresh) or too_old or other_person:
        if "none" in prompts or (other_person and fresh):  # Core 3.1.2.6: no page shown;
            required = LoginRequiredError(redirect_uri=grant.redirect_uri)  # or signed in
            required.state = request.values.get("state")  # again and still not the hint's
            return _back_to_client(required)
        mark = w.oidc.reauth.mark(client_id, params)
        return _sign_in(_request_url([(PARAMETER, mark)]), again=True)
    try:
        response: Response = server().create_authorization_response(grant=grant, grant_user=signin)
    except ValueError as exc:
        return _refused(bad_input(type(exc).__name__))
    w.audit.emit(
        "oidc_authorized",
        "success",
        user_id=signin.user_id,
        ip=request.remote_addr,
        detail={"client_id": client_id, "sid": signin.session_id},
    )
    return response
