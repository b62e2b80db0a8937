"""The hosted pages' look: the product's name and its colour."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BeforeValidator

from secureflaskauth.settings.sections import Section

_COLOR = re.compile(r"#[0-9a-f]{6}")


def _unset_if_empty(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _color(value: str) -> str:
    color = value.strip().lower()
    if not _COLOR.fullmatch(color):
        raise ValueError(f"not a colour: {value!r} (#rrggbb, e.g. #1d4ed8)")
    return color


class PagesSettings(Section):
    ENV_PREFIX: ClassVar[str] = ""

    # The name the pages show (their titles and headings); unset: SFA_APP_NAME
    product_name: Annotated[str | None, BeforeValidator(_unset_if_empty)] = None
    # The buttons' and links' colour (#rrggbb); the text on it is chosen for contrast
    brand_color: Annotated[str, AfterValidator(_color)] = "#1d4ed8"
