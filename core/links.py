"""Links to pages that take no arguments, reversed once per process.

`reverse()` matches the name against the URLconf's candidates, quotes and
checks the result every time: ~16 µs, and every dashboard page asks for
the same two dozen argument-less names -- the sidebar, the command palette,
the forms' actions (27 on a users-list page: ~0.4 ms, issue 29). The
answer depends only on the name, the current application (for a
namespace with several instances, such as two admin sites), the script
prefix and the URLconf, so it is kept under those. A new URLconf
(`clear_url_caches`, `override_settings(ROOT_URLCONF=...)`) has a new
resolver, hence new keys.

`core.templatetags.links` gives templates the same `{% url %}` with this
cache for its argument-less uses (settings: TEMPLATES' `builtins`).
"""

from __future__ import annotations

import functools

from django.urls import get_resolver, get_script_prefix, get_urlconf, reverse


def page_url(name: str, current_app: str | None = None) -> str:
    """`reverse(name, current_app=current_app)`, cached (raises
    NoReverseMatch as `reverse` does)."""
    return _reversed(name, current_app, get_script_prefix(), get_resolver(get_urlconf()))


@functools.lru_cache(maxsize=1024)
def _reversed(name, current_app, prefix, resolver) -> str:
    # `prefix` and `resolver` are what the answer depends on beyond the
    # name: part of the key only.
    return reverse(name, urlconf=resolver.urlconf_name, current_app=current_app)
