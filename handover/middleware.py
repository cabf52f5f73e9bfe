"""Project-wide response hygiene."""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers


class PrivatePagesNotCachedMiddleware:
    """Pages answered to a signed-in user hold personal data: tell browsers
    and proxies not to store them (ASVS 8.2.1), unless the view already set
    its own Cache-Control."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
