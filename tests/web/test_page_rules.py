"""The pages' own rules, without an app: where next= may go, the brand colour's
contrast."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from secureflaskauth.settings import Settings
from secureflaskauth.web.brand import BLACK, WHITE, contrast, palette
from secureflaskauth.web.redirects import after_signin, safe_next


@pytest.mark.parametrize(
    "value",
    [
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example",
        "HTTPS://evil.example",
        "javascript:alert(1)",
        "data:text/html,x",
        "evil.example/account",
        "/\t/evil.example",
        "/\n/evil.example",
        "/ /evil.example",
        "/\x7f",
        "",
        None,
        "/" + "a" * 5000,
    ],
)
def test_next_refuses_anything_but_a_path_of_this_site(value: str | None) -> None:
    assert safe_next(value) is None
    assert after_signin(value) == "/account"


@pytest.mark.parametrize(
    "value",
    ["/account", "/oauth/authorize?client_id=a&redirect_uri=https%3A%2F%2Fapp%2Fcb", "/a//b"],
)
def test_next_keeps_a_path_of_this_site(value: str) -> None:
    assert safe_next(value) == value == after_signin(value)


def test_any_brand_colour_gets_readable_text_and_links() -> None:
    rng = random.Random(8)
    colours = ["#ffffff", "#000000", "#ffff00", "#777777"] + [
        f"#{rng.randrange(1 << 24):06x}" for _ in range(300)
    ]
    for colour in colours:
        chosen = palette(colour)
        assert chosen.brand == colour
        assert chosen.on_brand in (WHITE, BLACK)
        assert contrast(chosen.brand, chosen.on_brand) >= 4.5, colour
        assert contrast(chosen.brand_text, WHITE) >= 4.5, colour


def test_the_default_colour_is_kept_as_it_is() -> None:
    assert palette("#1d4ed8").brand_text == "#1d4ed8"


@pytest.mark.parametrize("value", ["red", "#fff", "#12345g", "1d4ed8", "#1d4ed8ff", ""])
def test_a_brand_colour_must_be_rrggbb(value: str) -> None:
    with pytest.raises(ValidationError):
        Settings(brand_color=value)


def test_product_name_defaults_to_the_app_name() -> None:
    assert Settings(app_name="Acme").product_name == "Acme"
    assert Settings(app_name="Acme", product_name="Acme Sign-in").product_name == "Acme Sign-in"
    assert Settings(brand_color="#ABCDEF").pages.brand_color == "#abcdef"
