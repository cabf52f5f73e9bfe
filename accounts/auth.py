"""Sign-in helpers shared by the login view and django-axes."""

from accounts.models import normalize_email


def axes_username(request, credentials) -> str:
    """The lockout key: the normalised email, so case variants and stray
    spaces count against the same account."""
    raw = ""
    if credentials:
        raw = credentials.get("email") or credentials.get("username") or ""
    if not raw and request is not None:
        raw = request.POST.get("email", "")
    return normalize_email(raw)
