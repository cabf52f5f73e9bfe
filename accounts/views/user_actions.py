"""The actions on one user offered on their page (ban, unban, unlock,
disable, enable, force a password change, delete, restore, delete
permanently, the address's verification): one confirm view per action
declared in `accounts.services.actions`, with the form its parameters make
(`ActionForm`), answering a plain POST with a redirect and an htmx one
with the dialog's answer."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts import selectors
from accounts.forms import ActionForm
from accounts.reauth import reauth_required
from accounts.services import exports as export_services
from accounts.services import users as user_services
from accounts.services.actions import USER_ACTIONS, UserAction
from audit import events
from core.services import NotFound
from core.web import htmx_partial, refusals
from rbac import policies
from rbac.decorators import permission_required
from rbac.selectors import prime_permissions

app_name = "users"

# The actions the user page offers itself (the others live in its
# credentials and roles sections).
PAGE_ACTIONS = {name: a for name, a in USER_ACTIONS.items() if a.menu}


@dataclass(frozen=True)
class Offer:
    """An action as a page offers it to one user: its declaration and how
    its button reads there ("Change ban" for a banned user)."""

    action: UserAction
    button: str
    title: str
    danger: bool

    @property
    def name(self) -> str:
        return self.action.name

    @property
    def description(self) -> str:
        return self.action.description


def offer(action: UserAction, subject) -> Offer:
    if action.name == "ban" and subject.status == "banned":
        # Already banned: offer to change the ban (its end or reason).
        return Offer(action, "Change ban", "Change ban", False)
    return Offer(action, action.label, action.title, action.danger)


def offered(actor, users, facts_for=None, menu: str = "") -> dict:
    """{user pk: [Offer]}: the page actions each of `users` is offered --
    those whose state rule applies and whose own guard allows them.
    `facts_for(action)` may give a rule's facts read already; `menu`
    keeps only the actions of that menu."""
    if any(u.pk not in actor.known_permissions for u in users):
        actor = actor.knowing(prime_permissions(users))
    found = {u.pk: [] for u in users}
    for action in PAGE_ACTIONS.values():
        if menu and action.menu != menu:
            continue
        facts = facts_for(action) if facts_for else None
        if facts is None:
            facts = action.facts_for(users)
        candidates = [user for user in users if action.applies(user, facts)]
        # Each guard once per kind of row where it judges only the row's
        # standing (`policies.allowed_users`), not once per row.
        allowed = policies.allowed_users(action.guard, actor, candidates)
        for user in candidates:
            if user.pk in allowed:
                found[user.pk].append(offer(action, user))
    return found


def detail_context(actor, subject) -> dict:
    """What the page header and the status section need. Many guards
    compare the actor with the subject: the subject's permissions are
    computed once for all of them (and for the security section, which
    is given this `viewer`), and the sign-in lock read once for the
    status section and the unlock action's rule."""
    known = prime_permissions([subject])
    actor = actor.knowing(known)
    locks = selectors.user_locks([subject], permissions=known)

    def facts_for(action):  # the lock read above
        return {"locked": locks} if action.name == "unlock" else None

    actions = offered(actor, [subject], facts_for)[subject.pk]
    more = [a for a in actions if a.action.menu == "more"]
    return {
        "subject": subject,
        "viewer": actor,
        "lock": locks.get(subject.pk),
        "actions": actions,
        "primary_actions": [a for a in actions if a.action.menu == "primary"],
        "more_actions": [a for a in more if not a.danger],
        "danger_actions": [a for a in more if a.danger],
        "can_edit": policies.allows(policies.check_can_update_profile, actor, subject),
        "can_export": policies.allows(policies.check_can_export_user, actor, subject),
        "can_impersonate": policies.allows(policies.check_can_impersonate, actor, subject),
        "can_reset_password": policies.allows(
            policies.check_can_reset_password,
            actor,
            subject,
            action=events.PASSWORD_SET_BY_ADMIN,
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


def make_action_view(spec: UserAction):
    def view(request, pk):
        subject = selectors.user_get(pk, actor=request.actor)
        action = offer(spec, subject)
        initial = {}
        if spec.name == "ban" and subject.status == "banned":
            # Changing a ban: start from the ban as it is.
            action = Offer(spec, "Save ban", "Change ban", False)
            initial = {"reason": subject.ban_reason}
            if not subject.is_banned_permanently:
                local_end = timezone.localtime(subject.banned_until)
                initial.update(duration="until", until=local_end.strftime("%Y-%m-%dT%H:%M"))
        form = ActionForm(spec, request.POST or None, initial=initial)
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

    view.__name__ = "user_" + spec.key
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
