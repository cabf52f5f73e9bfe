"""A user's access (their roles and direct grants, where each permission
comes from, and why or why not) and ownership transfer.

Thin views, as in `rbac.views`: parse with a form, call a service, render;
refusals are shown with their message, never as a 500.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts import selectors
from accounts.reauth import reauth_required
from core.services import refusal_text
from core.web import htmx_partial, refusals
from rbac import policies, services
from rbac.decorators import forbidden, owner_required, permission_required
from rbac.forms import (
    AssignRoleForm,
    DirectPermissionsForm,
    OwnershipTransferForm,
    keep_locked,
    permission_rows,
)
from rbac.models import Role, UserRole
from rbac.permissions import (
    CATALOG,
)
from rbac.policies import PolicyDenied
from rbac.policies import orgs as org_policies
from rbac.selectors import permission_sources
from rbac.views_explain import why_context
from rbac.views_organizations import memberships_of

MEMBERS_PER_PAGE = 25


def _removable(actor, subject, roles) -> set:
    check = policies.check_can_remove_role
    return {r.pk for r in roles if policies.allows(check, actor, subject, r)}


def access_context(actor, subject, *, error="", notice="") -> dict:
    held = policies.permissions_of(actor.globally())
    memberships = memberships_of(actor, subject)
    # The picker offers the organizations the actor manages and the roles it
    # may give in every one of them (so nothing offered is refused for the
    # role itself), each saying what it leaves out there.
    managed = [m["org"] for m in memberships if m["can_manage"]]
    org_roles = org_policies.role_offers(actor, managed)
    picker_orgs = managed if org_roles else []
    roles = list(
        Role.objects.filter(userrole__user=subject, userrole__organization__isnull=True).order_by(
            "name"
        )
    )
    role_denial = policies.access_change_denial(actor, subject, "roles:assign", what="roles")
    grant_denial = policies.access_change_denial(
        actor, subject, "permissions:grant", what="permissions"
    )
    assignable = []
    if not role_denial:
        held_ids = {r.pk for r in roles}
        for role in Role.objects.exclude(slug=services.OWNER_ROLE).order_by("name"):
            if role.pk in held_ids:
                continue
            missing = sorted(set(role.permissions) - held)
            assignable.append({"role": role, "missing": missing})
    sources = permission_sources(subject)
    effective = [
        {"code": code, "description": CATALOG[code].description, "sources": sources[code]}
        for code in sources
    ]
    return {
        "subject": subject,
        "roles": roles,
        "direct": sorted(subject.direct_permissions or []),
        # Global roles whose removal the guard allows (the last manager of
        # an organization keeps the role that makes them one).
        "removable": set() if role_denial else _removable(actor, subject, roles),
        "effective": effective,
        "assignable": assignable,
        "can_assign": any(not a["missing"] for a in assignable),
        "role_denial": role_denial,
        "grant_denial": grant_denial,
        "can_read_roles": "roles:read" in policies.permissions_of(actor),
        "memberships": memberships,
        "picker_orgs": picker_orgs,
        "org_roles": org_roles,
        "error": error,
        "notice": notice,
    }


def _render_access(request, subject, *, error="", notice="", status=200):
    context = access_context(request.actor, subject, error=error, notice=notice)
    context.update(why_context(request, subject))
    if htmx_partial(request):
        # htmx swaps only 2xx answers: a refusal is shown inside the fragment.
        return render(request, "rbac/user_access.html#access", context)
    return render(request, "rbac/user_access.html", context, status=status)


def _access_change(request, subject, change, *, done: str, unchanged: str):
    """Run one change of a user's roles (`change` calls the service) and
    answer with the access page: its notice, or the refusal."""
    try:
        changed = change()
    except PolicyDenied as exc:
        return _after_action(request, subject, error=refusal_text(exc), status=403)
    except ValidationError as exc:
        return _after_action(request, subject, error=refusal_text(exc), status=400)
    return _after_action(request, subject, notice=done if changed else unchanged, changed=changed)


def _after_action(request, subject, *, notice="", error="", status=200, changed=False):
    if htmx_partial(request):
        response = _render_access(request, subject, notice=notice, error=error)
        if changed:
            # The user page's sections that load as fragments (its Activity)
            # reload, as after a ban.
            response["HX-Trigger"] = "handover:user-changed"
        return response
    if error:
        if status == 403:
            return forbidden(request, message=error)
        return _render_access(request, subject, error=error, status=status)
    messages.success(request, notice)
    return redirect("roles:user_access", user_id=subject.pk)


@permission_required("roles:read")
@require_http_methods(["GET"])
def user_access_view(request, user_id):
    return _render_access(request, selectors.user_get(user_id, actor=request.actor))


@permission_required("roles:assign")
@require_http_methods(["GET", "POST"])
def user_role_assign_view(request, user_id):
    subject = selectors.user_get(user_id, actor=request.actor)
    if request.method == "GET":
        return redirect("roles:user_access", user_id=subject.pk)
    form = AssignRoleForm(request.POST)
    if not form.is_valid():
        return _after_action(request, subject, error=form.errors["role"][0], status=400)
    role = form.cleaned_data["role"]
    return _access_change(
        request,
        subject,
        lambda: services.user_role_assign(actor=request.actor, user=subject, role=role),
        done=f"{subject.display_name} now has the role {role.name}.",
        unchanged=f"{subject.display_name} already has the role {role.name}.",
    )


@permission_required("roles:assign")
@require_http_methods(["GET", "POST"])
def user_role_remove_view(request, user_id, slug):
    subject = selectors.user_get(user_id, actor=request.actor)
    role = get_object_or_404(Role, slug=slug)
    held = UserRole.objects.filter(user=subject, role=role, organization__isnull=True).exists()
    if request.method == "GET":
        if not held:
            messages.info(request, f"{subject.display_name} does not have the role {role.name}.")
            return redirect("roles:user_access", user_id=subject.pk)
        return render(request, "rbac/user_role_remove.html", {"subject": subject, "role": role})
    return _access_change(
        request,
        subject,
        lambda: services.user_role_remove(actor=request.actor, user=subject, role=role),
        done=f"Removed the role {role.name} from {subject.display_name}.",
        unchanged=f"{subject.display_name} does not have the role {role.name}.",
    )


@permission_required("permissions:grant")
@require_http_methods(["GET", "POST"])
def user_permissions_view(request, user_id):
    subject = selectors.user_get(user_id, actor=request.actor)
    actor = request.actor
    current = sorted(subject.direct_permissions or [])
    context = {
        "subject": subject,
        "denial": policies.access_change_denial(
            actor, subject, "permissions:grant", what="permissions"
        ),
        "form": DirectPermissionsForm(),
    }
    if request.method == "GET":
        context["rows"] = permission_rows(actor, current)
        return render(request, "rbac/user_permissions.html", context)
    form = DirectPermissionsForm(request.POST)
    form.is_valid()
    wanted = set(keep_locked(actor, request.POST.getlist("permissions"), current))
    grant = sorted(wanted - set(current))
    revoke = sorted(set(current) - wanted)
    context["form"] = form
    context["rows"] = permission_rows(actor, wanted)
    with refusals(form) as outcome:
        services.user_permissions_update(actor=actor, user=subject, grant=grant, revoke=revoke)
    if not outcome.ok:
        return render(request, "rbac/user_permissions.html", context, status=outcome.status)
    if grant or revoke:
        parts = []
        if grant:
            parts.append("granted " + ", ".join(grant))
        if revoke:
            parts.append("revoked " + ", ".join(revoke))
        messages.success(
            request, f"Direct permissions of {subject.display_name}: {'; '.join(parts)}."
        )
    else:
        messages.info(request, "Nothing changed.")
    return redirect("roles:user_access", user_id=subject.pk)


# --- ownership -----------------------------------------------------------------


@owner_required
@reauth_required
@require_http_methods(["GET", "POST"])
def ownership_transfer_view(request):
    actor = request.actor
    form = OwnershipTransferForm(request.POST or None, actor=actor)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            target = form.cleaned_data["target"]
            field_by_code = {"reauthentication_failed": "password"}
            with refusals(form, field_by_code=field_by_code) as outcome:
                services.ownership_transfer(
                    actor=actor, target=target, password=form.cleaned_data["password"]
                )
            if outcome.ok:
                messages.success(
                    request,
                    f"{target.display_name} is now the owner. You keep the Admin role.",
                )
                return redirect("overview")
            status = outcome.status
    return render(request, "rbac/ownership_transfer.html", {"form": form}, status=status)
