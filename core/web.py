"""What every page view shares (no app imported).

- `htmx_partial`: answer with a fragment only for an htmx request that is
  not a boosted page load (a boosted link wants the whole page).
- `apply_errors`: put a service's ValidationError on the form field its
  code names, or on the form.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


def htmx_partial(request) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


def apply_errors(form, exc: ValidationError, field_by_code: dict | None = None) -> None:
    """Put a service's ValidationError on the matching field, or the form."""
    field_by_code = field_by_code or {}
    for error in exc.error_list if hasattr(exc, "error_list") else [exc]:
        field = field_by_code.get(error.code)
        text = error.message % error.params if error.params else error.message
        form.add_error(field if field in form.fields else None, text)
