"""The URLconf. Each area's routes live next to its views; every view
declares an access rule (see rbac.decorators and tests/test_url_rules.py)."""

from django.contrib import admin
from django.urls import path

from accounts.views import auth
from handover import views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("admin/", admin.site.urls),
]
