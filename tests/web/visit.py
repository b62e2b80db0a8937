"""A person at the pages, through the Flask test client: forms are posted with the
CSRF token of the page they are on, as a browser would send them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD, PHONE, last_code, unique_username

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Tag:
    name: str
    attrs: dict[str, str | None]


@dataclass
class Page(HTMLParser):
    """The tags of a page and its text (to find elements by their attributes)."""

    tags: list[Tag] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        HTMLParser.__init__(self)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(Tag(tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.append(" ".join(data.split()))

    def all(self, tag: str, /, **attrs: str) -> list[Tag]:
        return [
            t
            for t in self.tags
            if t.name == tag and all(t.attrs.get(k) == v for k, v in attrs.items())
        ]

    def one(self, tag: str, /, **attrs: str) -> Tag:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, found)
        return found[0]

    @property
    def text(self) -> str:
        return " ".join(self.texts)


def parse(response: TestResponse) -> Page:
    page = Page()
    page.feed(response.get_data(as_text=True))
    return page


class Visitor:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ""

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        response = self.client.get(path, **kwargs)
        if found := _TOKEN.search(response.get_data(as_text=True)):
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> TestResponse:
        """Post a form of the last page seen, with its CSRF token."""
        response = self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kwargs)
        if found := _TOKEN.search(response.get_data(as_text=True)):
            self.token = found.group(1)
        return response

    def follow(self, response: TestResponse) -> TestResponse:
        """The page a 303 sends the browser to."""
        assert response.status_code == 303, (response.status_code, response.get_data()[:300])
        return self.get(response.headers["Location"])

    def password_step(self, username: str, password: str = PASSWORD, **form: str) -> TestResponse:
        self.get("/signin")
        return self.post("/signin", {"username": username, "password": password, **form})

    def sign_in(self, username: str, password: str = PASSWORD, **form: str) -> TestResponse:
        """The password, then the SMS code from the outbox: the answer of the code."""
        started = self.password_step(username, password, **form)
        assert started.headers.get("Location") == "/signin/code", started.get_data()[:500]
        self.get("/signin/code")
        return self.post("/signin/code", {"code": last_code(self.client)})

    def sign_up(self, username: str | None = None, **form: str) -> tuple[str, TestResponse]:
        username = username or unique_username("page")
        self.get("/signup")
        fields = {"username": username, "password": PASSWORD, "phone_number": PHONE, **form}
        return username, self.post("/signup", fields)


def visitor(app: Flask) -> Visitor:
    return Visitor(app.test_client())


def set_cookies(response: TestResponse) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}
