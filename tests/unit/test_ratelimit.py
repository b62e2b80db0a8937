"""Rate rules: the "5/minute;20/hour" syntax."""

from __future__ import annotations

import pytest

from secureflaskauth.domain.ratelimit import Rate, parse_rates


@pytest.mark.parametrize(
    ("text", "rates"),
    [
        ("5/minute;20/hour", (Rate(5, 60), Rate(20, 3600))),
        ("10 per 15 minutes", (Rate(10, 900),)),
        ("1/second", (Rate(1, 1),)),
        ("3/day", (Rate(3, 86400),)),
        ("100/hours", (Rate(100, 3600),)),
        ("5 / minute ; 20 / hour ;", (Rate(5, 60), Rate(20, 3600))),
        ("5/MINUTE", (Rate(5, 60),)),
        ("2/30 seconds", (Rate(2, 30),)),
        ("10000/minute", (Rate(10000, 60),)),
    ],
)
def test_parse_rates(text: str, rates: tuple[Rate, ...]) -> None:
    assert parse_rates(text) == rates


@pytest.mark.parametrize(
    "text",
    [
        "",
        ";",
        " ; ",
        "5",
        "/minute",
        "five/minute",
        "5/fortnight",
        "5/minute;bad",
        "0/minute",
        "-1/minute",
        "1.5/minute",
        "5 minute",
        "5/minute/hour",
        "off",
    ],
)
def test_bad_rates_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rates(text)


def test_rate_str() -> None:
    assert str(Rate(5, 60)) == "5/60s"
