"""Roles pages, a user's access fragment and ownership transfer.

Thin views: parse with a form, call a service, render. HTMX requests get
the named partial, plain requests the whole page; every action also works
as a plain form post. Refusals (`PolicyDenied`) are shown with their
message, never as a 500.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
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
    RoleForm,
    keep_locked,
    permission_rows,
)
from rbac.models import Role, UserRole
from rbac.permissions import (
    CATALOG,
    TEMPLATES,
    grouped,
    left_out_in_organization,
    template_permissions,
)
from rbac.policies import PolicyDenied
from rbac.policies import orgs as org_policies
from rbac.selectors import permission_sources, role_list
from rbac.views_explain import why_context
from rbac.views_organizations import memberships_of

MEMBERS_PER_PAGE = 25


def _parse_version(value):
    """The role version the editor was opened at; None if absent or garbled."""
    try:
        return parse_datetime(value or "")
    except ValueError:
        return None


# --- roles -------------------------------------------------------------------


@permission_required("roles:read")
@require_http_methods(["GET"])
def role_list_view(request):
    roles = list(role_list())
    actor = request.actor
    return render(
        request,
        "rbac/role_list.html",
        {
            "builtin_roles": [r for r in roles if r.is_builtin],
            "custom_roles": [r for r in roles if not r.is_builtin],
            "can_create": policies.user_has(actor, "roles:create"),
            "can_update": policies.user_has(actor, "roles:update"),
            "can_delete": policies.user_has(actor, "roles:delete"),
        },
    )


def _role_form_context(request, form, *, role, selected, preview=None, note=""):
    return {
        "form": form,
        "role": role,
        "rows": permission_rows(request.actor, selected),
        "templates": TEMPLATES,
        "preview": preview,
        "note": note,
        "catalog": CATALOG,
    }


def _render_role_form(request, context, status=200):
    template = "rbac/role_form.html#role-form" if htmx_partial(request) else "rbac/role_form.html"
    return render(request, template, context, status=status)


def _role_editor(request, role: Role | None):
    """Create (role None) or edit a role: form -> preview -> save."""
    actor = request.actor
    current = list(role.permissions) if role else []
    note = ""
    if request.method == "GET":
        selected = current
        template_name = request.GET.get("template", "")
        initial = {}
        if role is not None:
            initial = {
                "name": role.name,
                "description": role.description,
                "updated_at": role.updated_at.isoformat(),
            }
        if template_name in TEMPLATES:
            wanted = set(template_permissions(template_name))
            held = policies.permissions_of(actor)
            selected = keep_locked(actor, wanted & held, current)
            left_out = sorted(wanted - held)
            note = "Prefilled from the %s template." % TEMPLATES[template_name]["name"]
            if left_out:
                note += " Left out because you do not hold them: %s." % ", ".join(left_out)
            if role is None:
                initial.setdefault("name", TEMPLATES[template_name]["name"])
                initial.setdefault("description", TEMPLATES[template_name]["description"])
        form = RoleForm(initial=initial, role=role)
        return _render_role_form(
            request, _role_form_context(request, form, role=role, selected=selected, note=note)
        )

    form = RoleForm(request.POST, role=role)
    submitted = request.POST.getlist("permissions")
    selected = keep_locked(actor, submitted, current)
    if not form.is_valid():
        return _render_role_form(
            request, _role_form_context(request, form, role=role, selected=selected), status=400
        )
    data = form.cleaned_data
    unknown = sorted(p for p in selected if p not in CATALOG)
    if unknown:
        form.add_error(
            None,
            "Unknown permission%s: %s." % ("s" if len(unknown) > 1 else "", ", ".join(unknown)),
        )
        return _render_role_form(
            request, _role_form_context(request, form, role=role, selected=selected), status=400
        )

    if request.POST.get("step") != "save":
        preview = services.preview_role_change(role, selected)
        preview["added_groups"] = grouped(preview["added"])
        preview["removed_groups"] = grouped(preview["removed"])
        preview["selected"] = selected
        return _render_role_form(
            request,
            _role_form_context(request, form, role=role, selected=selected, preview=preview),
        )

    with refusals(form) as outcome:
        if role is None:
            role = services.role_create(
                actor=actor,
                slug=data["slug"],
                name=data["name"],
                description=data["description"],
                permissions=selected,
            )
            messages.success(request, f"Role {role.name} created.")
        else:
            role = services.role_update(
                actor=actor,
                role=role,
                name=data["name"],
                description=data["description"],
                permissions=selected,
                expected_updated_at=_parse_version(data.get("updated_at")),
            )
            messages.success(request, f"Role {role.name} saved.")
    if not outcome.ok:
        return _render_role_form(
            request,
            _role_form_context(request, form, role=role, selected=selected),
            status=outcome.status,
        )
    url = reverse("roles:detail", args=[role.slug])
    if htmx_partial(request):
        response = render(request, "rbac/redirect.html", {"url": url})
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@permission_required("roles:create")
@require_http_methods(["GET", "POST"])
def role_create_view(request):
    return _role_editor(request, None)


@permission_required("roles:update")
@require_http_methods(["GET", "POST"])
def role_edit_view(request, slug):
    role = get_object_or_404(Role, slug=slug)
    # The owner role is fixed: the guard says so before the editor opens
    # (its refusal answers 403 with the guard's words).
    policies.check_can_edit_role(request.actor, role)
    return _role_editor(request, role)


@permission_required("roles:read")
@require_http_methods(["GET"])
def role_detail_view(request, slug):
    role = get_object_or_404(Role, slug=slug)
    actor = request.actor
    members = (
        UserRole.objects.filter(role=role, user__in=actor.visible_users())
        .select_related("user", "assigned_by")
        .order_by("user__email")
    )
    page = Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "rbac/role_detail.html",
        {
            "role": role,
            "groups": grouped(role.permissions),
            "left_out": left_out_in_organization(role.permissions),
            "page": page,
            "member_count": page.paginator.count,
            "pending_invitations": role.invitations.with_status("open").count(),
            "can_update": policies.allows(policies.check_can_edit_role, actor, role),
            "can_delete": policies.allows(policies.check_can_delete_role, actor, role),
        },
    )


@permission_required("roles:delete")
@require_http_methods(["GET", "POST"])
def role_delete_view(request, slug):
    role = get_object_or_404(Role, slug=slug)
    members = UserRole.objects.filter(role=role).count()
    invitations = role.invitations.with_status("open")
    context = {"role": role, "members": members, "invitations": invitations.count()}
    if request.method == "POST":
        name = role.name
        try:
            services.role_delete(
                actor=request.actor, role=role, confirm=request.POST.get("confirm") == "yes"
            )
        except ValidationError as exc:
            context["error"] = refusal_text(exc)
            return render(request, "rbac/role_delete.html", context, status=400)
        messages.success(request, f"Role {name} deleted.")
        return redirect("roles:list")
    return render(request, "rbac/role_delete.html", context)


# --- a user's access -----------------------------------------------------------


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
