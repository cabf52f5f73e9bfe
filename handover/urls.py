"""The URLconf. Each area's routes live next to its views; every view
declares an access rule (see rbac.decorators and tests/test_url_rules.py)."""

from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite

from handover import views

# Django admin requires an OTP-verified session for everyone.
admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("", views.overview, name="overview"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("accounts.views.auth")),
    path("admin/", admin.site.urls),
    path("", include("accounts.views.public")),
    path("invitations/", include("accounts.views.invitations")),
    path("emails/", include("accounts.views.emails")),
    path("users/", include("accounts.views.credentials")),
]
