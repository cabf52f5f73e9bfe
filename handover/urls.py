"""The URLconf. Each area's routes live next to its views; every view
declares an access rule (see rbac.decorators and tests/test_url_rules.py)."""

from django.contrib import admin
from django.urls import include, path

from handover import views
from handover.admin_site import HandoverAdminSite
from handover.api import api

# Django admin requires an OTP-verified session for everyone and signs
# people in through the dashboard's sign-in (handover.admin_site).
admin.site.__class__ = HandoverAdminSite
# The admin's own header links back to the dashboard (templates/admin/base_site.html).
admin.site.site_url = None

urlpatterns = [
    path("", views.overview, name="overview"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page says (and admin pages).
    path("favicon.ico", views.favicon, name="favicon"),
    path("", include("accounts.views.auth")),
    path("api-keys/", include("accounts.views.api_keys")),
    path("admin/", admin.site.urls),
    path("roles/", include("rbac.urls")),
    path("organizations/", include("rbac.urls_organizations")),
    path("account/", include("accounts.views.account")),
    path("users/", include("accounts.views.user_security")),
    path("api/", api.urls),
    # Anything else under /api/ -- an unknown path, or a path parameter that
    # does not match its pattern (`/api/admin/users/not-a-uuid`) -- is the
    # API's JSON 404, in DEBUG too (where Django would show its HTML page).
    path("api/<path:rest>", views.api_not_found, name="api_not_found"),
    path("audit/", include("audit.urls")),
]

urlpatterns += [
    path("users/", include("accounts.views.users")),
    path("", include("accounts.views.public")),
    path("", include("accounts.views.sign_in_report")),
    path("invitations/", include("accounts.views.invitations")),
    path("emails/", include("accounts.views.emails")),
    path("jobs/", include("accounts.views.jobs")),
    path("webhooks/", include("webhooks.urls")),
    path("users/", include("accounts.views.credentials")),
    path("", include("accounts.views.impersonation")),
    path("views/", include("accounts.views.saved_views")),
    path("palette/", include("accounts.views.palette")),
]


handler404 = "handover.views.page_not_found"
handler500 = "handover.views.server_error"
