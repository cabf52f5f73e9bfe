"""The audit log in Django admin: read-only. No add, change or delete, no
bulk delete; retention goes through `manage.py audit_prune` only."""

from django.contrib import admin

from audit.models import AuditEvent
from rbac.admin_base import ActorModelAdmin, CappedPaginator, ReadOnlyMixin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyMixin, ActorModelAdmin):
    list_display = ("id", "created_at", "action", "actor_label", "target_label", "outcome", "ip")
    list_filter = ("outcome",)
    # Exact matches on indexed columns only: a million rows stay fast.
    search_fields = ("=action", "=target_id", "=request_id")
    search_help_text = "Exact action code, target id or request id."
    ordering = ("-id",)
    paginator = CappedPaginator
    show_full_result_count = False
    actions = None

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]
