"""Client-supplied text: escaped, cut between whole characters, headers read as UTF-8."""

from __future__ import annotations

from secureflaskauth.domain.text import header_text, printable, shorten


def test_a_cut_never_splits_an_escape() -> None:
    assert printable("ab\x00cd", 6) == "ab"
    assert printable("ab\x00cd", 8) == "ab\\u0000"
    assert shorten("é" * 70, 60) == "é" * 60


def test_a_header_s_utf8_bytes_read_as_latin1_are_decoded_again() -> None:
    wire = "Gerät \u20191\u2019".encode().decode("latin-1")  # what WSGI hands over
    assert header_text(wire) == "Gerät \u20191\u2019"
    assert header_text("plain/1.0") == "plain/1.0"
    assert header_text(b"caf\xe9".decode("latin-1")) == "caf\ufffd"  # no UTF-8: replaced
    assert header_text("already \u2019text\u2019") == "already \u2019text\u2019"
