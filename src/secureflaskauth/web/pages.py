"""The pages' blueprint: what every page shares (its context, its headers, the CSRF
check of its forms, its error pages); the routes are in the modules named after
their pages (signin.py, account.py, phone.py...) and assets.py."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from secureflaskauth import wiring
from secureflaskauth.domain import usernames
from secureflaskauth.domain.errors import DomainError, ValidationFailed
from secureflaskauth.domain.passwords import policy as password_policy
from secureflaskauth.web import assets, i18n, security
from secureflaskauth.web.brand import palette
from secureflaskauth.web.messages import field_message, isolated, ltr, refusal
from secureflaskauth.web.text import gettext

log = logging.getLogger("secureflaskauth.pages")
blueprint = Blueprint("pages", __name__, template_folder="templates")
blueprint.add_url_rule("/pages/assets/<name>", "asset", assets.serve, methods=["GET"])
blueprint.add_app_template_filter(ltr, "ltr")
blueprint.add_app_template_filter(isolated, "isolated")


# Fields that hold a one-time code or a recovery code: never shown again once refused.
_SECRET_CODES = frozenset({"code", "totp", "recovery_code"})


@dataclass
class Form:
    """A form as the person filled it: its values (passwords never kept, codes not once
    refused), each field's messages, and what is said about the whole form."""

    values: Mapping[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    alert: str | None = None
    status: int = 200
    retry_after: int | None = None
    first: str | None = None  # the field focused when nothing is wrong

    @property
    def focus(self) -> str | None:
        """The field the page opens on: the first one with a message, else ``first``."""
        return next(iter(self.errors), self.first)

    def refused(
        self, error: DomainError, fields: Mapping[str, str] | None = None, at: str | None = None
    ) -> Form:
        """Put the domain's refusal on the form: a field's messages next to the field
        (``fields`` maps the domain's field names to the form's), the rest above it, or
        next to the field ``at`` when the refusal is about what was typed there (a
        wrong code)."""
        self.status = error.status
        self.retry_after = error.retry_after
        if at is not None and not isinstance(error, ValidationFailed):
            self.errors[at] = [refusal(error)]
            self.alert = gettext("Please correct the fields marked below.")
        elif isinstance(error, ValidationFailed):
            for name, messages in error.errors.items():
                shown = [field_message(m) for m in messages]
                target = (fields or {}).get(name)
                if target is None:
                    self.alert = " ".join(shown)
                else:
                    self.errors.setdefault(target, []).extend(shown)
            if self.errors and self.alert is None:
                self.alert = gettext("Please correct the fields marked below.")
        else:
            self.alert = refusal(error)
        self._drop_codes(error)
        return self

    def _drop_codes(self, error: DomainError) -> None:
        """A refusal clears every code typed (a wrong one, or one of a sign-in that is
        over); a field's message clears that field's code alone, so the reset's SMS code
        stays when only the new password or the app's code was missing."""
        refused = set(self.errors) if isinstance(error, ValidationFailed) else _SECRET_CODES
        self.values = {k: v for k, v in self.values.items() if k not in refused & _SECRET_CODES}


def submitted(*names: str) -> dict[str, str]:
    """The posted values of ``names`` (missing ones empty)."""
    return {name: request.form.get(name, "") for name in names}


def page(template: str, form: Form | None = None, **context: Any) -> Response:
    """A page, with the form's status and, for a refusal that says when to retry, a
    Retry-After header."""
    form = form or Form()
    response = make_response(render_template(f"pages/{template}", form=form, **context))
    response.status_code = form.status
    if form.retry_after is not None:
        response.headers["Retry-After"] = str(form.retry_after)
    return response


@blueprint.context_processor
def _shared() -> dict[str, Any]:
    settings = wiring.current().settings
    return {
        "product": settings.product_name,
        "palette": palette(settings.pages.brand_color),
        "nonce": security.nonce(),
        "lang": i18n.language(),
        "dir": i18n.direction(),
        "switches": i18n.switches(),
        "asset": assets.url,
        "username_min": usernames.MIN_LENGTH,
        "username_max": usernames.MAX_LENGTH,
        "password_min": password_policy.MIN_LENGTH,
    }


@blueprint.before_request
def _before() -> None:
    security.check_csrf()


@blueprint.after_request
def _after(response: Response) -> Response:
    return i18n.remember(security.headers(response))


@blueprint.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> Response:
    log.info("form refused: %s", error.description)
    form = Form(status=400, alert=gettext("This form has expired or did not come from this site."))
    return page("refused.html", form, title=gettext("Please try again"))


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    form = Form(status=error.code or 500, alert=gettext("This page cannot be shown."))
    return page("refused.html", form, title=gettext("Please try again"))


@blueprint.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    # The traceback goes to the log; the person gets a page that says nothing of it.
    log.exception("unhandled error on a page", exc_info=error)
    form = Form(status=500, alert=gettext("Something went wrong. Please try again."))
    return page("refused.html", form, title=gettext("Please try again"))


@blueprint.errorhandler(DomainError)
def _refused(error: DomainError) -> Response:
    # A refusal no page expected (a store down, mostly): said in words, not JSON.
    form = Form().refused(error)
    return page("refused.html", form, title=gettext("Please try again"))
