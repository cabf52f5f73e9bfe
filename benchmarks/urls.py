"""Benchmark-only routes, mounted before the product's:

- /bench/admin/  a Django admin site with one change list over the same
  users and the same columns as /users/ (roles prefetched and MFA
  annotated, as a careful admin author would), 50 per page;
- /bench/floor/  the floor: one indexed query, 50 rows, a minimal template.
"""

from django.contrib import admin
from django.db.models import Prefetch
from django.shortcuts import render
from django.urls import path
from django_otp.admin import OTPAdminSite

from accounts.models import User
from accounts.selectors import mfa_enabled_q
from handover.urls import urlpatterns as product_urlpatterns
from rbac.decorators import permission_required
from rbac.models import Role

PAGE = 50


class BenchUserAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "role_names", "status", "mfa", "last_login", "created_at")
    list_per_page = PAGE
    ordering = ("-created_at", "-id")
    search_fields = ("email", "name")
    show_full_result_count = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(has_mfa=mfa_enabled_q())
            .prefetch_related(Prefetch("roles", Role.objects.order_by("name")))
        )

    @admin.display(description="Roles")
    def role_names(self, obj):
        return ", ".join(r.name for r in obj.roles.all())

    @admin.display(boolean=True, description="MFA")
    def mfa(self, obj):
        return obj.has_mfa


site = OTPAdminSite(name="benchadmin")
site.register(User, BenchUserAdmin)


@permission_required("users:read")
def floor(request):
    users = User.objects.filter(deleted_at__isnull=True).order_by("-created_at", "-id")[:PAGE]
    return render(request, "bench/floor.html", {"users": users})


urlpatterns = [
    path("bench/admin/", site.urls),
    path("bench/floor/", floor),
    *product_urlpatterns,
]
