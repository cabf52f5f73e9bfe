"""Fail closed: every route in the URLconf declares who may reach it.

A view without an access rule (rbac.decorators: public, signed_in,
permission_required) fails this test, so a new route cannot ship unguarded.
Django admin (OTPAdminSite + RBAC backend) and the JSON API (API-key auth on
the router) guard themselves and are checked by their own tests.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver

from rbac.actor import Actor
from rbac.decorators import RULE_ATTR
from rbac.permissions import CATALOG

SELF_GUARDED_PREFIXES = ("admin/", "api/")


def iter_patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from iter_patterns(entry, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


def app_routes():
    for route, pattern in iter_patterns():
        if route.startswith(SELF_GUARDED_PREFIXES):
            continue
        yield route, pattern


def test_every_route_declares_an_access_rule():
    missing = [
        f"{route} -> {pattern.callback.__module__}.{pattern.callback.__name__}"
        for route, pattern in app_routes()
        if getattr(pattern.callback, RULE_ATTR, None) is None
    ]
    assert not missing, "routes without an access rule:\n" + "\n".join(missing)


def test_every_permission_rule_names_a_catalog_permission():
    for route, pattern in app_routes():
        rule = getattr(pattern.callback, RULE_ATTR)
        if rule[0] == "permission":
            unknown = set(rule[1:]) - set(CATALOG)
            assert not unknown, f"{route} requires unknown permissions {unknown}"


def test_admin_site_requires_otp():
    from django.contrib import admin
    from django_otp.admin import OTPAdminSite

    assert isinstance(admin.site, OTPAdminSite)


def test_a_page_refused_for_a_missing_permission_is_audited(client_for, viewer):
    from django.http import HttpResponse

    from audit.models import AuditEvent
    from rbac.decorators import permission_required

    @permission_required("audit:export")
    def view(request):
        return HttpResponse("ok")

    from django.test import RequestFactory

    request = RequestFactory().get("/somewhere/")
    request.user, request.actor = viewer, Actor.for_session(viewer, "test-session")
    request.session = {}
    response = view(request)
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="rbac.page.denied")
    assert event.outcome == "denied"
    assert event.actor_id == viewer.pk
    assert event.reason == "permission_denied: GET /somewhere/ needs audit:export"


def test_a_page_open_to_any_of_several_permissions(viewer, member):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from audit.models import AuditEvent
    from rbac.decorators import permission_required

    @permission_required("audit:export", "users:read")
    def view(request):
        return HttpResponse("ok")

    assert view.access_rule == ("permission", "audit:export", "users:read")
    request = RequestFactory().get("/either/")
    request.user, request.session = viewer, {}
    request.actor = Actor.for_session(viewer, "test-session")
    assert view(request).status_code == 200  # holds users:read only
    request.user, request.actor = member, Actor.for_session(member, "test-session")
    response = view(request)
    assert response.status_code == 403
    assert "one of the permissions audit:export or users:read" in response.content.decode()
    event = AuditEvent.objects.get(action="rbac.page.denied", actor_id=member.pk)
    assert event.reason == "permission_denied: GET /either/ needs audit:export or users:read"
