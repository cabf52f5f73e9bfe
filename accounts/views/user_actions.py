"""The actions on one user offered on their page (ban, unban, unlock,
disable, enable, force a password change, delete, restore, delete
permanently): one table, `STATUS_ACTIONS`, each entry naming the action's
service function; one view per action made from it, answering a plain POST
with a redirect and an htmx one with the dialog's answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts import selectors
from accounts.forms import (
    BanForm,
    HardDeleteForm,
    NoFieldsForm,
    ReasonForm,
)
from accounts.reauth import reauth_required
from accounts.services import exports as export_services
from accounts.services import lockout as lockout_services
from accounts.services import users as user_services
from core.services import NotFound
from core.web import htmx_partial, refusals
from rbac import policies
from rbac.decorators import permission_required
from rbac.selectors import prime_permissions

app_name = "users"


# --- detail, create, edit ----------------------------------------------------


@dataclass(frozen=True)
class StatusAction:
    name: str
    permission: str
    title: str
    button: str
    form: type
    # The single action (a service function; the form's `service_kwargs()`
    # supplies its arguments besides actor and user) and its named guard,
    # asked before the page offers the action.
    service: Callable
    guard: Callable
    done: str
    danger: bool = True
    description: str = ""
    # Irreversible actions ask for the password (and code) again first.
    reauth: bool = False

    def applies(self, user) -> bool:
        status = user.status
        if self.name == "unlock":
            return status != "deleted" and selectors.user_lock(user) is not None
        return {
            "ban": status != "deleted",
            "unban": bool(user.banned_until) and status != "deleted",
            "disable": not user.disabled_at and status != "deleted",
            "enable": bool(user.disabled_at) and status != "deleted",
            "force-password-change": not user.must_change_password and status != "deleted",
            "delete": status != "deleted",
            "restore": status == "deleted",
            "hard-delete": True,
        }[self.name]


# Every message about the restore window says the one constant's number.
RESTORE_DAYS = user_services.RESTORE_WINDOW.days

STATUS_ACTIONS = {
    a.name: a
    for a in [
        StatusAction(
            "ban",
            "users:ban",
            "Ban user",
            "Ban",
            BanForm,
            user_services.user_ban,
            policies.check_can_ban,
            "{email} is banned.",
            description="A banned user cannot sign in. Their sessions end now and "
            "outstanding links stop working.",
        ),
        StatusAction(
            "unban",
            "users:ban",
            "Unban user",
            "Unban",
            ReasonForm,
            user_services.user_unban,
            policies.check_can_unban,
            "{email} is no longer banned.",
            danger=False,
            description="The user can sign in again.",
        ),
        StatusAction(
            "unlock",
            "users:disable",
            "Unlock user",
            "Unlock",
            ReasonForm,
            lockout_services.user_unlock,
            policies.check_can_unlock,
            "{email} is unlocked and can sign in again.",
            danger=False,
            description="Too many failed sign-ins locked this account. Unlocking forgets "
            "them, so the user can sign in again now; the failures stay in the audit log.",
        ),
        StatusAction(
            "disable",
            "users:disable",
            "Disable user",
            "Disable",
            ReasonForm,
            user_services.user_disable,
            policies.check_can_disable,
            "{email} is disabled.",
            description="A disabled user cannot sign in until enabled again. Their sessions "
            "end now.",
        ),
        StatusAction(
            "enable",
            "users:disable",
            "Enable user",
            "Enable",
            ReasonForm,
            user_services.user_enable,
            policies.check_can_enable,
            "{email} is enabled.",
            danger=False,
            description="The user can sign in again.",
        ),
        StatusAction(
            "force-password-change",
            "users:reset-password",
            "Force a password change",
            "Force password change",
            NoFieldsForm,
            user_services.user_force_password_change,
            policies.check_can_force_password_change,
            "{email} must choose a new password at the next sign-in.",
            danger=False,
            description="The user keeps signing in with the current password once more, "
            "then has to choose a new one.",
        ),
        StatusAction(
            "delete",
            "users:delete",
            "Delete user",
            "Delete",
            ReasonForm,
            user_services.user_delete,
            policies.check_can_delete,
            "{email} is deleted. You can restore them for %d days." % RESTORE_DAYS,
            description="The user cannot sign in and disappears from the list. You can "
            "restore them within %d days." % RESTORE_DAYS,
        ),
        StatusAction(
            "restore",
            "users:delete",
            "Restore user",
            "Restore",
            ReasonForm,
            user_services.user_restore,
            policies.check_can_restore,
            "{email} is restored.",
            danger=False,
            description="The user comes back with the status they had before.",
        ),
        StatusAction(
            "hard-delete",
            "users:delete",
            "Delete permanently",
            "Delete permanently",
            HardDeleteForm,
            user_services.user_hard_delete,
            policies.check_can_erase,
            "{email} is permanently deleted.",
            description="This erases the user and everything attached to them. The audit "
            "log keeps its record. This cannot be undone.",
            reauth=True,
        ),
    ]
}


MORE_MENU_ACTIONS = ("force-password-change", "delete", "hard-delete")


def detail_context(actor, subject) -> dict:
    """What the page header and the status section need. Many guards
    compare the actor with the subject: the subject's permissions are
    computed once for all of them."""
    actor = actor.knowing(prime_permissions([subject]))
    actions = [
        a
        for a in STATUS_ACTIONS.values()
        if a.applies(subject) and policies.allows(a.guard, actor, subject)
    ]
    if subject.status == "banned":
        # Already banned: offer to change the ban (its end or reason), next to Unban.
        actions = [
            replace(a, button="Change ban", danger=False) if a.name == "ban" else a for a in actions
        ]
    return {
        "subject": subject,
        "lock": selectors.user_lock(subject),
        "actions": actions,
        "primary_actions": [a for a in actions if a.name not in MORE_MENU_ACTIONS],
        "more_actions": [a for a in actions if a.name in MORE_MENU_ACTIONS and not a.danger],
        "danger_actions": [a for a in actions if a.name in MORE_MENU_ACTIONS and a.danger],
        "can_edit": policies.allows(policies.check_can_update_profile, actor, subject),
        "can_export": policies.allows(policies.check_can_export_user, actor, subject),
        "can_impersonate": policies.allows(policies.check_can_impersonate, actor, subject),
        "can_reset_password": policies.allows(
            policies.check_can_reset_password,
            actor,
            subject,
            action="accounts.password.set_by_admin",
        ),
        "can_scrub_audit": policies.allows(policies.check_can_scrub_audit, actor, subject),
        "restore_deadline": user_services.restore_deadline(subject),
    }


def _action_done(request, subject):
    """The dialog's answer after an action: it closes, and the header, the
    status section (with its history) and the messages refresh in place."""
    try:
        subject = selectors.user_get(subject.pk, actor=request.actor)
    except NotFound:
        return HttpResponseClientRedirect(reverse("users:list"))
    response = render(request, "users/_action_done.html", detail_context(request.actor, subject))
    # Close the dialog; sections loaded as fragments (activity) reload.
    response["HX-Trigger"] = json.dumps({"handover:modal-close": "", "handover:user-changed": ""})
    return response


def make_action_view(spec: StatusAction):
    def view(request, pk):
        subject = selectors.user_get(pk, actor=request.actor)
        action = spec
        initial = {}
        if spec.name == "ban" and subject.status == "banned":
            # Changing a ban: start from the ban as it is.
            action = replace(spec, title="Change ban", button="Save ban", danger=False)
            initial = {"reason": subject.ban_reason}
            if not subject.is_banned_permanently:
                local_end = timezone.localtime(subject.banned_until)
                initial.update(duration="until", until=local_end.strftime("%Y-%m-%dT%H:%M"))
        form = spec.form(request.POST or None, initial=initial)
        status = 400 if form.errors else 200
        if request.method == "POST" and form.is_valid():
            email = subject.email
            field_by_code = {"confirm_mismatch": "confirm_email", "ban_in_past": "until"}
            with refusals(form, field_by_code=field_by_code) as outcome:
                spec.service(actor=request.actor, user=subject, **form.service_kwargs())
            status = outcome.status
            if outcome.ok:
                messages.success(request, spec.done.format(email=email))
                if spec.name == "hard-delete":
                    target = reverse("users:list")
                    if htmx_partial(request):
                        return HttpResponseClientRedirect(target)
                    return redirect(target)
                if htmx_partial(request):
                    return _action_done(request, subject)
                return redirect("users:detail", pk=subject.pk)
        context = {"subject": subject, "action": action, "form": form}
        if htmx_partial(request):
            # A failed submit re-renders the form inside the open dialog.
            name = "form" if request.method == "POST" else "dialog"
            return render(request, f"users/confirm.html#{name}", context)
        return render(request, "users/confirm.html", context, status=status)

    view.__name__ = "user_" + spec.name.replace("-", "_")
    view.__qualname__ = view.__name__
    view = require_http_methods(["GET", "POST"])(view)
    if spec.reauth:
        view = reauth_required(view)
    return permission_required(spec.permission)(view)


@permission_required("users:export")
@require_http_methods(["GET"])
def user_data_export(request, pk):
    subject = selectors.user_get(pk, actor=request.actor)
    data = export_services.user_data_access_request(actor=request.actor, user=subject)
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="user-{subject.pk}.json"'
    return response
