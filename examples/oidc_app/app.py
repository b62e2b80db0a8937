"""An app that signs people in through SecureFlaskAuth (OpenID Connect, authorization
code with PKCE) and calls an API with the access token. Run: see README.md."""

from __future__ import annotations

import os
import secrets

import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, session, url_for
from markupsafe import escape
from werkzeug.wrappers import Response


def create_app(issuer: str, client_id: str, client_secret: str, api_url: str) -> Flask:
    app = Flask(__name__)
    app.secret_key = os.environ.get("APP_SECRET_KEY") or secrets.token_hex(32)
    oauth = OAuth(app)
    oauth.register(
        "sfa",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile phone", "code_challenge_method": "S256"},
    )

    @app.get("/")
    def home() -> str:
        user = session.get("user")
        if user is None:
            return '<p>Signed out. <a href="/login">Sign in</a></p>'
        name = escape(user.get("preferred_username", user["sub"]))
        return (
            f'<p>Hello {name}. <a href="/api">Call the API</a> <a href="/logout">Sign out</a></p>'
        )

    @app.get("/login")
    def login() -> Response:
        return oauth.sfa.authorize_redirect(url_for("callback", _external=True))  # type: ignore[no-any-return]

    @app.get("/callback")
    def callback() -> Response:
        token = oauth.sfa.authorize_access_token()  # checks state, the ID token, its nonce
        session["user"] = oauth.sfa.userinfo(token=token)  # the claims of the scopes
        session["access_token"] = token["access_token"]
        session["id_token"] = token["id_token"]
        return redirect("/")

    @app.get("/api")
    def call_api() -> str:
        headers = {"Authorization": f"Bearer {session.get('access_token', '')}"}
        answer = requests.get(api_url, headers=headers, timeout=5)
        text = escape(answer.text)
        return f'<p>The API answered {answer.status_code}: {text}</p><a href="/">Back</a>'

    @app.get("/logout")
    def logout() -> Response:
        id_token = session.get("id_token")
        session.clear()
        return oauth.sfa.logout_redirect(  # type: ignore[no-any-return]
            post_logout_redirect_uri=url_for("home", _external=True), id_token_hint=id_token
        )

    return app


if __name__ == "__main__":
    create_app(
        os.environ.get("SERVICE_URL", f"http://localhost:{os.environ.get('SFA_PORT', '5000')}"),
        os.environ["CLIENT_ID"],
        os.environ["CLIENT_SECRET"],
        os.environ.get("API_URL", "http://localhost:8001/hello"),
    ).run(port=8000)
