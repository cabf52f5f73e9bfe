"""Sign-in helpers shared by the login view and django-axes."""

import weakref

from accounts.models import User, normalize_email
from accounts.security import locked_per_address

ACCOUNT = ["username"]
ACCOUNT_AND_ADDRESS = [["username", "ip_address"]]


def axes_username(request, credentials) -> str:
    """The lockout key: the normalised email, so case variants and stray
    spaces count against the same account."""
    raw = ""
    if credentials:
        raw = credentials.get("email") or credentials.get("username") or ""
    if not raw and request is not None:
        raw = request.POST.get("email", "")
    return normalize_email(raw)


def axes_lockout_parameters(request_or_attempt, credentials=None) -> list:
    """What django-axes counts failures against: the account, or -- for an
    account that manages users -- the account from one address, so a
    stranger's wrong passwords lock out only the stranger. Axes asks with a
    request (and the credentials) or with a stored attempt; with a request,
    up to four times in one sign-in attempt (whether it is locked out, then
    again on the failure), so the answer is read once a request
    (`_asked`): a refused attempt on a locked account read the account and
    its permissions four times (8 of its 15 queries)."""
    if not hasattr(request_or_attempt, "META"):
        return _parameters_for(getattr(request_or_attempt, "username", "") or "")
    username = axes_username(request_or_attempt, credentials)
    known = _asked.setdefault(request_or_attempt, {})
    if username not in known:
        known[username] = _parameters_for(username)
    return known[username]


# Each request's answers, by username; gone with the request.
_asked: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _parameters_for(username: str) -> list:
    user = User.objects.filter(email=username).first() if username else None
    if user is not None and locked_per_address(user):
        return ACCOUNT_AND_ADDRESS
    return ACCOUNT
