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


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (Rate(5, 60), "5/minute"),
        (Rate(10, 900), "10 per 15 minutes"),
        (Rate(2, 30), "2 per 30 seconds"),
        (Rate(10, 3600), "10/hour"),
        (Rate(3, 7200), "3 per 2 hours"),
        (Rate(1, 86400), "1/day"),
        (Rate(7, 90), "7 per 90 seconds"),
    ],
)
def test_a_rate_reads_as_its_setting(rate: Rate, text: str) -> None:
    """What a development-mode 429 tells a person to change."""
    assert str(rate) == text
    assert parse_rates(text) == (rate,)
