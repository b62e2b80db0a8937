"""English and Hebrew: chosen by Accept-Language, ?lang= and its cookie; Hebrew pages
are right to left; the compiled catalogues are those of their sources."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from secureflaskauth.web import i18n
from secureflaskauth.web.messages import FIELD_MESSAGES, FIELD_PREFIXES
from tests.web.visit import parse, set_cookies

CATALOGUES = i18n.TRANSLATIONS
WEB = CATALOGUES.parent


def html_of(client: FlaskClient, path: str = "/signin", **headers: str) -> dict[str, str | None]:
    return parse(client.get(path, headers=headers)).one("html").attrs


def test_english_is_the_default(client: FlaskClient) -> None:
    assert html_of(client) == {"lang": "en", "dir": "ltr"}
    assert html_of(client, **{"Accept-Language": "fr-FR, de;q=0.8"}) == {"lang": "en", "dir": "ltr"}


def test_a_hebrew_browser_gets_hebrew_right_to_left(client: FlaskClient) -> None:
    attrs = html_of(client, **{"Accept-Language": "he-IL,he;q=0.9,en;q=0.5"})
    assert attrs == {"lang": "he", "dir": "rtl"}
    page = parse(client.get("/signin", headers={"Accept-Language": "he"}))
    assert "כניסה" in page.text
    # The switch names the other language in its own words.
    link = page.one("a", hreflang="en")
    assert link.attrs["lang"] == "en" and link.attrs["href"] == "/signin?lang=en"


def test_lang_switches_and_is_remembered(client: FlaskClient) -> None:
    switched = client.get("/signin?lang=he&next=/account")
    cookie = set_cookies(switched)[i18n.COOKIE]
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="):
        assert attribute in cookie
    assert (
        parse(switched).one("a", hreflang="en").attrs["href"] == "/signin?lang=en&next=%2Faccount"
    )
    assert html_of(client, "/forgot")["lang"] == "he"  # the cookie
    assert html_of(client, "/forgot", **{"Accept-Language": "en"})["lang"] == "he"
    client.get("/signin?lang=en")
    assert html_of(client, "/forgot")["lang"] == "en"
    client.get("/signin?lang=xx")  # not a language: nothing changes
    assert html_of(client, "/forgot")["lang"] == "en"


def test_every_message_has_its_hebrew() -> None:
    with (CATALOGUES / "he/LC_MESSAGES/messages.po").open("rb") as source:
        catalogue = read_po(source)
    with (CATALOGUES / "messages.pot").open("rb") as source:
        template = read_po(source)
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    missing = [m.id for m in catalogue if m.id and (not m.string or m.fuzzy or not all(m.string))]
    assert missing == []
    assert ids == {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id}


def test_the_compiled_catalogue_is_its_source() -> None:
    """The .mo shipped in the package is the .po compiled (make translations)."""
    folder = CATALOGUES / "he/LC_MESSAGES"

    def plain(value: object) -> object:
        return tuple(value) if isinstance(value, (list, tuple)) else value

    with (folder / "messages.po").open("rb") as source:
        expected = {plain(m.id): plain(m.string) for m in read_po(source) if m.id}
    with (folder / "messages.mo").open("rb") as compiled:
        found = {plain(m.id): plain(m.string) for m in read_mo(compiled) if m.id}
    assert found == expected and len(found) > 100


def test_the_template_holds_every_message_of_the_code(tmp_path: Path) -> None:
    """messages.pot is what the code and the templates ask for (make translations)."""
    out = tmp_path / "messages.pot"
    subprocess.run(
        [
            Path(sys.executable).parent / "pybabel",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "lazy_gettext",
            "-k",
            "ngettext:1,2",
            "-o",
            str(out),
            ".",
        ],
        cwd=WEB,
        check=True,
        capture_output=True,
    )

    def ids(path: Path) -> set[object]:
        with path.open("rb") as source:
            return {m.id if isinstance(m.id, str) else tuple(m.id) for m in read_po(source) if m.id}

    assert ids(out) == ids(CATALOGUES / "messages.pot")


@pytest.fixture(scope="module")
def babel_app() -> Flask:
    """An app with the pages' languages and nothing else (no store behind it)."""
    app = Flask(__name__)
    i18n.install(app)
    return app


@pytest.mark.parametrize("domain_text", [*FIELD_MESSAGES, *FIELD_PREFIXES])
def test_the_english_of_each_domain_message_is_the_domain_s(
    babel_app: Flask, domain_text: str
) -> None:
    """A domain message changed without its page message is caught here."""
    translated = {**FIELD_MESSAGES, **FIELD_PREFIXES}[domain_text]
    with babel_app.test_request_context("/signin?lang=en"):
        assert str(translated) == domain_text
    with babel_app.test_request_context("/signin?lang=he"):
        assert str(translated) != domain_text


def test_read_mo_reads_plural_forms() -> None:
    with (CATALOGUES / "he/LC_MESSAGES/messages.mo").open("rb") as compiled:
        catalogue = read_mo(io.BytesIO(compiled.read()))
    assert catalogue.num_plurals == 3
