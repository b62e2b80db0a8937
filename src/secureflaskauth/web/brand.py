"""The product's colour on the pages, with text that stays readable on it (WCAG 2.2
1.4.3: a contrast of at least 4.5:1 for text)."""

from __future__ import annotations

from dataclasses import dataclass

WHITE, BLACK = "#ffffff", "#000000"
MIN_CONTRAST = 4.5


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """WCAG 2.2 relative luminance of ``#rrggbb``."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(one: str, other: str) -> float:
    """WCAG 2.2 contrast ratio of two colours (1 to 21)."""
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _darker(color: str, step: float) -> str:
    r, g, b = (round(int(color[i : i + 2], 16) * (1 - step)) for i in (1, 3, 5))
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass(frozen=True)
class Palette:
    brand: str  # buttons' background
    on_brand: str  # text on the buttons: white or black, whichever reads better
    brand_text: str  # links and focus outlines on the white page


def palette(color: str) -> Palette:
    """The colours the pages use for ``color`` (#rrggbb): the colour itself for buttons,
    and for links on white the colour darkened as far as a 4.5:1 contrast needs."""
    on_brand = WHITE if contrast(color, WHITE) >= contrast(color, BLACK) else BLACK
    text, step = color, 0.0
    while contrast(text, WHITE) < MIN_CONTRAST:
        step += 0.05
        text = _darker(color, step)
    return Palette(brand=color, on_brand=on_brand, brand_text=text)
