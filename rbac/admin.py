"""Roles in Django admin. Reading needs roles:read (via the RBAC backend's
model-permission map); every change goes through rbac.services, so admin
obeys the same guards and writes the same audit events as the dashboard.
The same base as every Handover admin (`ServiceModelAdmin`): a refusal is
shown as a message and the change is not logged as done."""

from __future__ import annotations

from django.contrib import admin

from rbac import policies, services
from rbac.admin_base import ServiceModelAdmin
from rbac.forms import RoleAdminForm
from rbac.models import Role


@admin.register(Role)
class RoleAdmin(ServiceModelAdmin):
    form = RoleAdminForm
    list_display = ["name", "slug", "is_builtin", "permission_count", "updated_at"]
    list_filter = ["is_builtin"]
    search_fields = ["name", "slug"]
    readonly_fields = ["is_builtin", "created_at", "updated_at"]
    actions = None  # no bulk delete: each deletion is guarded and audited

    @admin.display(description="Permissions")
    def permission_count(self, obj):
        return len(obj.permissions)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return [*self.readonly_fields, "slug"]
        return self.readonly_fields

    def may_change(self, request, obj) -> bool:
        return policies.allows(policies.check_can_edit_role, request.actor, obj)

    def may_delete(self, request, obj) -> bool:
        return policies.allows(policies.check_can_delete_role, request.actor, obj)

    def service_save(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.role_update(
                actor=request.actor,
                role=Role.objects.get(pk=obj.pk),
                name=data["name"],
                description=data.get("description", ""),
                permissions=data.get("permissions", []),
            )
        else:
            created = services.role_create(
                actor=request.actor,
                slug=data["slug"],
                name=data["name"],
                description=data.get("description", ""),
                permissions=data.get("permissions", []),
            )
            obj.pk = created.pk
        obj.refresh_from_db()

    def service_delete(self, request, obj):
        services.role_delete(actor=request.actor, role=obj, confirm=True)
