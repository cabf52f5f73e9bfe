"""What every Handover ModelAdmin shares: change lists that never run an
unbounded COUNT, and admin actions that go through the same services (and
so the same guards and audit records) as the dashboard."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.utils.functional import cached_property

from core.services import refusal_text
from rbac import policies
from rbac.backends import model_permission_allowed, module_allowed
from rbac.policies import PolicyDenied

COUNT_CAP = 10_000

# The refusals of the change or delete view running now (None outside one).
_refused_in_view: ContextVar[list | None] = ContextVar("admin_refused", default=None)


@contextmanager
def _refusal_scope():
    token = _refused_in_view.set([])
    try:
        yield
    finally:
        _refused_in_view.reset(token)


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP rows (`SELECT COUNT(*) FROM (... LIMIT n)`),
    so a change list costs the same on a table of a hundred or of ten
    million rows; deeper pages are reached by filtering or searching."""

    @cached_property
    def count(self):
        try:
            return self.object_list.values("pk")[:COUNT_CAP].count()
        except (AttributeError, TypeError):
            return min(len(self.object_list), COUNT_CAP)


def run_for_each(modeladmin, request, queryset, *, service, verb: str, **kwargs):
    """Call `service(actor=request.actor, <arg>=obj, **kwargs)` for each
    selected object (or with `modeladmin.service_args(obj)`, where the
    service names its target differently) and report done / refused with the guard's words."""

    func = service
    arguments = getattr(modeladmin, "service_args", None) or (
        lambda obj: {modeladmin.service_arg: obj}
    )
    done, refused = 0, []
    for obj in queryset:
        try:
            func(actor=request.actor, **arguments(obj), **kwargs)
            done += 1
        except (PolicyDenied, ValidationError) as exc:
            refused.append(f"{obj}: {refusal_text(exc)}")
    if done:
        modeladmin.message_user(request, f"{verb}: {done} done.", messages.SUCCESS)
    for line in refused[:20]:
        modeladmin.message_user(request, f"Refused — {line}", messages.ERROR)
    if len(refused) > 20:
        modeladmin.message_user(request, f"…and {len(refused) - 20} more refused.", messages.ERROR)
    return None


def service_action(service, *, description: str, verb: str, permission: str, **kwargs):
    """An admin action bound to a service function (the object itself, so
    "find usages" of the service lists this caller); shown only to holders
    of `permission` (the service checks again, with its named guard)."""

    def action(modeladmin, request, queryset):
        return run_for_each(modeladmin, request, queryset, service=service, verb=verb, **kwargs)

    action.__name__ = service.__name__ + "_action"
    action.short_description = description
    action.allowed_permissions = ("catalog",)
    action.required_permission = permission
    return action


class ActorModelAdmin(admin.ModelAdmin):
    """Django admin's permission questions answered from the request's
    actor (`request.actor`: its global permissions, computed once per
    request -- Django admin is the operators' door, so grants held only
    inside organizations do not open it),
    through the same map as `rbac.backends.RBACBackend`, rather than from
    the user object once per question."""

    def _actor_may(self, request, action: str) -> bool:
        actor = request.actor
        codename = get_permission_codename(action, self.opts)
        return actor.is_active and model_permission_allowed(
            actor.global_permissions, f"{self.opts.app_label}.{codename}"
        )

    def has_add_permission(self, request):
        return self._actor_may(request, "add")

    def has_change_permission(self, request, obj=None):
        return self._actor_may(request, "change")

    def has_delete_permission(self, request, obj=None):
        return self._actor_may(request, "delete")

    def has_view_permission(self, request, obj=None):
        return self._actor_may(request, "view") or self._actor_may(request, "change")

    def has_module_permission(self, request):
        actor = request.actor
        return actor.is_active and module_allowed(actor.global_permissions, self.opts.app_label)


class ServiceModelAdmin(ActorModelAdmin):
    """Base: capped counts, no "delete selected", actions gated on catalog
    permissions, and saves/deletes through services that may refuse: a
    subclass names its service calls in `service_save` / `service_delete`;
    a refusal is shown as a message and the change is not logged as done."""

    paginator = CappedPaginator
    show_full_result_count = False
    service_arg = "obj"

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        for name in list(actions):
            func = actions[name][0]
            needed = getattr(func, "required_permission", None)
            if needed and not policies.user_has(request.actor, needed):
                del actions[name]
        return actions

    def has_catalog_permission(self, request):
        return True  # each action's own catalog permission is checked in get_actions

    # What a page offers asks the service's guard (`policies.allows`), as
    # the dashboard does: an object the guard would refuse to change or
    # delete is shown read-only, without Save or Delete. A POST still goes
    # to the service, whose guard refuses it and audits the attempt.
    def may_change(self, request, obj) -> bool:
        return True

    def may_delete(self, request, obj) -> bool:
        return True

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        if allowed and obj is not None and request.method == "GET":
            return self.may_change(request, obj)
        return allowed

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        if allowed and obj is not None and request.method == "GET":
            return self.may_delete(request, obj)
        return allowed

    # Whether a service refused during this change or delete view: the
    # view's own state, opened and closed around it (`_refusal_scope`),
    # read by the response and log steps Django runs after the save.
    def changeform_view(self, request, *args, **kwargs):
        with _refusal_scope():
            return super().changeform_view(request, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        with _refusal_scope():
            return super().delete_view(request, *args, **kwargs)

    def refuse(self, request, exc) -> None:
        refused = _refused_in_view.get()
        if refused is not None:
            refused.append(exc)
        self.message_user(request, refusal_text(exc), messages.ERROR)

    def _refused(self, request) -> bool:
        return bool(_refused_in_view.get())

    def response_add(self, request, obj, post_url_continue=None):
        if self._refused(request):
            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if self._refused(request):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def response_delete(self, request, obj_display, obj_id):
        if self._refused(request):
            return HttpResponseRedirect(request.path)
        return super().response_delete(request, obj_display, obj_id)

    def log_addition(self, request, obj, message):
        if not self._refused(request):
            return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        if not self._refused(request):
            return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        """Django logs before `delete_model` runs; the service may still
        refuse, so a deletion is logged after it succeeded (`delete_model`)."""
        return None

    def service_save(self, request, obj, form, change) -> None:
        """Save the form through the model's service (which may refuse with
        `PolicyDenied` or `ValidationError`); an admin that can add or
        change objects names its service calls here."""
        raise NotImplementedError(f"{type(self).__name__} saves through no service")

    def service_delete(self, request, obj) -> None:
        """Delete `obj` through the model's service (which may refuse); an
        admin that can delete objects names its service call here."""
        raise NotImplementedError(f"{type(self).__name__} deletes through no service")

    def save_model(self, request, obj, form, change):
        try:
            self.service_save(request, obj, form, change)
        except (PolicyDenied, ValidationError) as exc:
            self.refuse(request, exc)

    def delete_model(self, request, obj):
        try:
            self.service_delete(request, obj)
        except (PolicyDenied, ValidationError) as exc:
            self.refuse(request, exc)
            return
        super().log_deletions(request, [obj])

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class ReadOnlyMixin:
    """For a ModelAdmin that only shows rows: no add, change or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
