"""Organization pages: the list (and create), an organization's page with
its members, their roles there and pending invitations; adding and
removing members, giving and taking roles there. Each button posts to one
service; what an organization administrator cannot see is 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.models import Invitation, User
from accounts.selectors import user_get
from accounts.services.invitations import invitation_create
from core.web import refusals
from rbac import policies, services
from rbac.decorators import permission_required
from rbac.models import Role, UserRole
from rbac.policies import orgs as org_policies


class OrganizationForm(forms.Form):
    slug = forms.SlugField(max_length=50, help_text="Lowercase letters, digits and hyphens.")
    name = forms.CharField(max_length=100)


class MemberAddForm(forms.Form):
    email = forms.EmailField(label="Email of an existing user")
    role = forms.ModelChoiceField(
        Role.objects.exclude(slug="owner"), required=False, to_field_name="slug"
    )


class OrgInviteForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ModelChoiceField(
        Role.objects.exclude(slug="owner"), required=False, to_field_name="slug"
    )


class OrgRoleForm(forms.Form):
    role = forms.ModelChoiceField(Role.objects.exclude(slug="owner"), to_field_name="slug")


def _organization(request, slug):
    org = request.actor.visible_organizations().filter(slug=slug).first()
    if org is None:
        raise Http404("This organization does not exist.")
    return org


def _member(request, org, user_id) -> User:
    user = user_get(user_id, actor=request.actor)
    if not user.membership_set.filter(organization=org).exists():
        raise Http404("This user is not a member of this organization.")
    return user


@permission_required("organizations:read")
@require_http_methods(["GET", "POST"])
def organization_list_view(request):
    actor = request.actor
    can_create = policies.allows(org_policies.check_can_create_organization, actor)
    form = OrganizationForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        with refusals(form) as outcome:
            org = services.organization_create(actor=actor, **form.cleaned_data)
        if outcome.ok:
            messages.success(request, f"{org.name} is created.")
            return redirect("organizations:detail", slug=org.slug)
        status = outcome.status
    elif request.method == "POST":
        status = 400
    orgs = actor.visible_organizations().order_by("name")
    return render(
        request,
        "organizations/list.html",
        {"organizations": orgs, "form": form, "can_create": can_create},
        status=status,
    )


def _detail_context(request, org, **extra):
    actor = request.actor
    members = list(
        actor.visible_users()
        .filter(membership__organization=org, deleted_at__isnull=True)
        .order_by("email")
    )
    held: dict = {}
    perms_of: dict = {}
    for user_id, slug, name, perms in UserRole.objects.filter(
        organization=org, user_id__in=[m.pk for m in members]
    ).values_list("user_id", "role__slug", "role__name", "role__permissions"):
        held.setdefault(user_id, []).append((slug, name))
        perms_of.setdefault(user_id, []).append((slug, perms))
    can_manage = actor.may("members:manage", org)
    manageable = org_policies.members_manageable(actor, org, members) if can_manage else set()
    # The last member able to manage the others keeps that ability here.
    sole = org_policies.sole_manager(org) if manageable else None
    rows = [
        {
            "user": m,
            "roles": sorted(held.get(m.pk, []), key=lambda r: r[1]),
            "can_change": m.pk in manageable,
            "can_remove": m.pk in manageable and m.pk != sole,
            "locked_roles": org_policies.locked_roles(org, m.pk, perms_of.get(m.pk, []), sole),
        }
        for m in members
    ]
    context = {
        "org": org,
        "rows": rows,
        "can_manage": can_manage,
        "can_read_members": actor.may("members:read", org),
        "invitations": Invitation.objects.filter(organization=org)
        .with_status("pending")
        .order_by("-created_at")
        if actor.may("invitations:create", org)
        else [],
        "add_form": MemberAddForm(),
        "invite_form": OrgInviteForm(),
        "can_invite": actor.may("invitations:create", org),
        "role_form": OrgRoleForm(),
        "role_offers": org_policies.role_offers(actor, [org]),
    }
    context.update(extra)
    return context


@permission_required("organizations:read")
@require_http_methods(["GET"])
def organization_detail_view(request, slug):
    org = _organization(request, slug)
    return render(request, "organizations/detail.html", _detail_context(request, org))


@permission_required("members:manage")
@require_http_methods(["POST"])
def organization_member_add_view(request, slug):
    org = _organization(request, slug)
    form = MemberAddForm(request.POST)
    status = 400
    if form.is_valid():
        user = (
            request.actor.visible_users()
            .filter(email__iexact=form.cleaned_data["email"], deleted_at__isnull=True)
            .first()
        )
        if user is None:
            form.add_error("email", "No user with this address is within your reach.")
        else:
            role = form.cleaned_data["role"]
            with refusals(form) as outcome:
                services.member_add(
                    actor=request.actor,
                    organization=org,
                    user=user,
                    roles=[role.slug] if role else [],
                )
            if outcome.ok:
                messages.success(request, f"{user.email} is now a member of {org.name}.")
                return redirect("organizations:detail", slug=org.slug)
            status = outcome.status
    return render(
        request,
        "organizations/detail.html",
        _detail_context(request, org, add_form=form),
        status=status,
    )


@permission_required("members:manage")
@require_http_methods(["POST"])
def organization_member_remove_view(request, slug, user_id):
    org = _organization(request, slug)
    user = _member(request, org, user_id)
    with refusals(request=request):
        if services.member_remove(actor=request.actor, organization=org, user=user):
            messages.success(request, f"{user.email} is no longer a member of {org.name}.")
    return redirect("organizations:detail", slug=org.slug)


@permission_required("members:manage")
@require_http_methods(["POST"])
def organization_role_assign_view(request, slug, user_id):
    org = _organization(request, slug)
    user = _member(request, org, user_id)
    form = OrgRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role.")
        return redirect(_back(request, org, user))
    role = form.cleaned_data["role"]
    with refusals(request=request):
        if services.org_role_assign(actor=request.actor, organization=org, user=user, role=role):
            messages.success(request, f"{user.email} now holds {role.name} in {org.name}.")
    return redirect(_back(request, org, user))


@permission_required("members:manage")
@require_http_methods(["POST"])
def organization_role_remove_view(request, slug, user_id, role_slug):
    org = _organization(request, slug)
    user = _member(request, org, user_id)
    role = Role.objects.filter(slug=role_slug).first()
    if role is None:
        raise Http404("This role does not exist.")
    with refusals(request=request):
        if services.org_role_remove(actor=request.actor, organization=org, user=user, role=role):
            messages.success(request, f"{user.email} no longer holds {role.name} in {org.name}.")
    return redirect(_back(request, org, user))


def _back(request, org, user) -> str:
    if request.POST.get("back") == "user":
        return reverse("users:detail", args=[user.pk])
    return reverse("organizations:detail", args=[org.slug])


class PickerForm(OrgRoleForm):
    organization = forms.SlugField()


@permission_required("members:manage")
@require_http_methods(["POST"])
def organization_role_picker_view(request, user_id):
    """The user page's role dialog with an organization picker: give a
    role inside the chosen organization."""
    form = PickerForm(request.POST)
    subject = user_get(user_id, actor=request.actor)
    if not form.is_valid():
        messages.error(request, "Choose an organization and a role.")
        return redirect("users:detail", subject.pk)
    org = _organization(request, form.cleaned_data["organization"])
    user = _member(request, org, subject.pk)
    role = form.cleaned_data["role"]
    with refusals(request=request):
        if services.org_role_assign(actor=request.actor, organization=org, user=user, role=role):
            messages.success(request, f"{user.email} now holds {role.name} in {org.name}.")
    return redirect("users:detail", user.pk)


@permission_required("invitations:create")
@require_http_methods(["POST"])
def organization_invite_view(request, slug):
    """Invite someone into this organization, holding a role there once
    they accept."""
    org = _organization(request, slug)
    form = OrgInviteForm(request.POST)
    status = 400
    if form.is_valid():
        role = form.cleaned_data["role"]
        with refusals(form) as outcome:
            invitation_create(
                actor=request.actor,
                email=form.cleaned_data["email"],
                roles=[role.slug] if role else [],
                organization=org,
            )
        if outcome.ok:
            messages.success(
                request,
                f"An invitation into {org.name} is on its way to {form.cleaned_data['email']}.",
            )
            return redirect("organizations:detail", slug=org.slug)
        status = outcome.status
    return render(
        request,
        "organizations/detail.html",
        _detail_context(request, org, invite_form=form),
        status=status,
    )


def memberships_of(actor, subject) -> list[dict]:
    """The organizations of `subject` the actor sees, with the roles held
    there and whether the actor may change them."""
    orgs = list(actor.visible_organizations().filter(membership__user=subject).order_by("name"))
    held: dict = {}
    perms_of: dict = {}
    for org_id, slug, name, perms in UserRole.objects.filter(
        user=subject, organization__in=orgs
    ).values_list("organization_id", "role__slug", "role__name", "role__permissions"):
        held.setdefault(org_id, []).append((slug, name))
        perms_of.setdefault(org_id, []).append((slug, perms))
    rows = []
    for org in orgs:
        can_manage = subject.pk in org_policies.members_manageable(actor, org, [subject])
        sole = org_policies.sole_manager(org) if can_manage else None
        rows.append(
            {
                "org": org,
                "roles": sorted(held.get(org.pk, []), key=lambda r: r[1]),
                "can_manage": can_manage,
                "locked_roles": org_policies.locked_roles(
                    org, subject.pk, perms_of.get(org.pk, []), sole
                ),
            }
        )
    return rows
