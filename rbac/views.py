"""Roles pages: the list, the editor (create and edit), a role's page and
deleting a role. A user's access and ownership transfer are in
`rbac.views_access`.

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

from core.services import refusal_text
from core.web import htmx_partial, refusals
from rbac import policies, services
from rbac.decorators import permission_required
from rbac.forms import (
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
from rbac.selectors import role_list

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
