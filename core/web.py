"""What every page view shares (no app imported).

- `htmx_partial`: answer with a fragment only for an htmx request that is
  not a boosted page load (a boosted link wants the whole page).
- `refusals`: the one translation of a service's refusal on a page. The
  API's is in `handover/api.py`, Django admin's in `rbac/admin_base.py`;
  all three answer the same refusal with the same words.
- `apply_errors`: put a service's ValidationError on the form field its
  code names, or on the form.
- `safe_back`: where a `next` or `back` parameter may send the visitor.
- `confirm_page`: the page that asks before a destructive action.
- `url_maker`: one URL pattern's links for a page of rows, from one
  `reverse`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from core.services import PolicyDenied, refusal_text


def url_maker(name: str, sample):
    """`reverse(name, args=[value])` for many values from one `reverse`
    (per row, reversing costs more than the rest of the row). `sample`: a
    value the pattern's converter accepts and no other part of the URL
    contains (a large number, a UUID)."""
    head, tail = reverse(name, args=[sample]).rsplit(str(sample), 1)
    return lambda value: f"{head}{value}{tail}"


def htmx_partial(request) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


def apply_errors(form, exc: ValidationError, field_by_code: dict | None = None) -> None:
    """Put a service's ValidationError on the field its code names (`"*"`:
    any other code), or on the form. A ValidationError raised with a dict
    names its fields itself."""
    field_by_code = field_by_code or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return
    for error in exc.error_list:
        field = field_by_code.get(error.code, field_by_code.get("*"))
        text = error.message % error.params if error.params else error.message
        form.add_error(field if field in form.fields else None, text)


@dataclass
class Outcome:
    """What a service call inside `refusals` came to: `ok`, or the status
    its refusal answers with (403 a guard's refusal, 400 invalid input)."""

    status: int = 200

    @property
    def ok(self) -> bool:
        return self.status == 200


@contextmanager
def refusals(form=None, *, request=None, field_by_code: dict | None = None) -> Iterator[Outcome]:
    """Run a service call and turn its refusal into the page's answer.

    With a form (the page re-renders it): a guard's refusal becomes a form
    error with status 403 (400 when `field_by_code` puts its code on a
    field, as a wrong password), a ValidationError goes on the field its
    code names with status 400.

    Without a form (a button that posts and redirects): a ValidationError
    becomes an error message on the next page (`request` is needed), and a
    guard's refusal is not caught -- `ServiceRefusalMiddleware`
    answers it with the 403 page. `NotFound` and `ServiceBusy` are never
    caught here: middleware answers 404 and 503.
    """
    outcome = Outcome()
    try:
        yield outcome
    except PolicyDenied as exc:
        if form is None:
            raise
        field = (field_by_code or {}).get(exc.code)
        form.add_error(field if field in form.fields else None, exc.message)
        outcome.status = 400 if field in form.fields else 403
    except ValidationError as exc:
        if form is not None:
            apply_errors(form, exc, field_by_code)
        else:
            messages.error(request, refusal_text(exc))
        outcome.status = 400


def safe_back(request, fallback: str, *, param: str = "next") -> str:
    """The `next` (or `back`) parameter when it points at this site, else
    `fallback`: never an open redirect."""
    target = request.POST.get(param) or request.GET.get(param) or ""
    # A path on this site or a URL of this host; printable only (a control
    # character cannot go in a Location header); never a bare word, which
    # `redirect()` would take for a view name.
    if (
        target.isprintable()
        and (target.startswith("/") or target.startswith(("http://", "https://")))
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return fallback


def confirm_page(request, *, title, message, button, cancel_url, danger=True):
    """The page that asks before a destructive action posts (the same form
    posts back to the action's URL)."""
    return render(
        request,
        "account/confirm.html",
        {
            "title": title,
            "message": message,
            "button": button,
            "cancel_url": cancel_url,
            "danger": danger,
        },
    )
