"""Recent re-authentication for sensitive actions.

`@reauth_required` on a view lets the request through only when the
password (and a code, for users with an authenticator app) was entered in
this session within settings.REAUTH_WINDOW. Otherwise the user is sent to
the re-authentication page and then back to the action: to the same URL,
so a sensitive action should show its confirmation on GET and act on POST.

Other areas use it for: changing your own email or password, ownership
transfer, creating an API key, hard delete.
"""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts.services.sessions import reauth_is_recent


def reauth_url(next_path: str) -> str:
    return f"{reverse('account:reauth')}?{urlencode({'next': next_path})}"


def reauth_required(view):
    """Keep the view's access rule (apply @signed_in or
    @permission_required outside this decorator)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated and not reauth_is_recent(request.session.session_key):
            # A POST cannot be replayed after the detour: come back to the
            # GET of the same URL (its confirmation) instead.
            url = reauth_url(request.get_full_path() if request.method == "GET" else request.path)
            if request.headers.get("HX-Request") == "true":
                return HttpResponse(status=204, headers={"HX-Redirect": url})
            return HttpResponseRedirect(url)
        return view(request, *args, **kwargs)

    return wrapper
