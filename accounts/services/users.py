"""Creating users and changing their profile and status."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import User, normalize_email
from audit import services as audit
from handover.services import service
from rbac import policies
from rbac.models import Role, UserRole
from rbac.permissions import template_permissions, validate_permissions


class UserExists(ValidationError):
    pass


def _validate_new_email(email: str) -> str:
    email = normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise UserExists(
            "A user with this email already exists.",
            code="duplicate_email",
            params={"email": email},
        )
    return email


def resolve_grants(*, template: str | None, permissions) -> list[str]:
    """A template's permissions plus an explicit list, validated."""
    perms = set(validate_permissions(permissions or []))
    if template:
        perms |= template_permissions(template)
    return sorted(perms)


def resolve_roles(slugs) -> list[Role]:
    slugs = list(dict.fromkeys(slugs or []))
    roles = list(Role.objects.filter(slug__in=slugs))
    unknown = sorted(set(slugs) - {r.slug for r in roles})
    if unknown:
        raise ValidationError("Unknown role: %s." % ", ".join(unknown), code="unknown_role")
    if any(r.slug == "owner" for r in roles):
        raise ValidationError(
            "The owner role cannot be assigned; transfer ownership instead.", code="owner_role"
        )
    return roles


@service
def user_create(
    *,
    actor,
    email: str,
    name: str = "",
    password: str | None = None,
    roles=(),
    template: str | None = None,
    permissions=(),
    auto_confirm: bool = False,
) -> User:
    """Create a user who can sign in with `password`, or a pending user
    (no usable password) when `password` is None -- the invitation flow
    completes those. Guards: users:create, and escalation over everything
    the new user would hold."""
    action = "accounts.user.created"
    policies.check_permission(actor, "users:create", action=action)
    role_objs = resolve_roles(roles)
    grants = resolve_grants(template=template, permissions=permissions)
    wanted = set(grants)
    for role in role_objs:
        wanted.update(role.permissions)
    if role_objs:
        policies.check_permission(actor, "roles:assign", action=action)
    if grants:
        policies.check_permission(actor, "permissions:grant", action=action)
    policies.check_escalation(actor, wanted, action=action)

    email = _validate_new_email(email)
    user = User(email=email, name=name.strip(), direct_permissions=grants)
    if password is not None:
        validate_password(password, user)
    user.set_password(password)
    now = timezone.now()
    if password is not None:
        user.password_changed_at = now
    if auto_confirm:
        user.email_verified_at = now
    user.save()
    UserRole.objects.bulk_create(
        [UserRole(user=user, role=r, assigned_by=actor) for r in role_objs]
    )
    audit.record(
        action,
        actor=actor,
        target=user,
        changes={
            "email": [None, email],
            "name": [None, user.name],
            "roles": [[], [r.slug for r in role_objs]],
            "permissions": [[], grants],
            "auto_confirm": [None, auto_confirm],
            "has_password": [None, password is not None],
        },
    )
    return user


@service
def owner_bootstrap(*, email: str, password: str | None, name: str = "") -> User:
    """Create the single owner (first run). Refuses when an owner exists."""
    if User.objects.filter(is_owner=True).exists():
        raise ValidationError("An owner already exists.", code="owner_exists")
    email = _validate_new_email(email)
    user = User(email=email, name=name, is_owner=True, email_verified_at=timezone.now())
    if password is not None:
        validate_password(password, user)
        user.password_changed_at = timezone.now()
    user.set_password(password)
    user.save()
    owner_role = Role.objects.get(slug="owner")
    UserRole.objects.create(user=user, role=owner_role)
    audit.record(
        "accounts.owner.bootstrapped",
        actor=None,
        target=user,
        changes={"email": [None, email], "is_owner": [False, True]},
    )
    return user
