"""Organizations and their members (guards in `rbac.policies.orgs`):
create, rename, delete (refused while it has members), add and remove a
member, and the roles a member holds there. Adding an existing user as a
member never creates or changes their account.

A change of a member locks the user, then the organization (the one lock
order every service takes: users by id, organizations by id, roles), then
asks its guard, which counts the organization's managers under that lock."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.services.common import lock_user
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies
from rbac.models import Membership, Organization, Role, UserRole
from rbac.policies import orgs as org_policies
from rbac.services.common import SLUG_RE, _clean_name, _lock_role

# Path segments under /organizations/ that a slug must not shadow.
RESERVED_ORG_SLUGS = frozenset({"new", "assign"})


def _clean_org_slug(slug) -> str:
    slug = str(slug or "").strip().lower()
    if not slug or len(slug) > 50 or not SLUG_RE.match(slug) or slug in RESERVED_ORG_SLUGS:
        raise ValidationError(
            {"slug": "Use 1-50 lowercase letters, digits, hyphens or underscores (e.g. acme)."},
            code="invalid_slug",
        )
    return slug


def _clean_metadata(metadata) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ValidationError({"metadata": "Metadata must be a JSON object."}, code="invalid")
    return metadata


def lock_organization(organization) -> Organization:
    pk = getattr(organization, "pk", organization)
    try:
        return Organization.objects.select_for_update().get(pk=pk)
    except Organization.DoesNotExist:
        raise ValidationError(
            "This organization does not exist (it may have been deleted).", code="missing"
        ) from None


def _roles(slugs) -> list[Role]:
    slugs = list(dict.fromkeys(slugs or ()))
    roles = list(Role.objects.filter(slug__in=slugs))
    unknown = sorted(set(slugs) - {r.slug for r in roles})
    if unknown:
        raise ValidationError(
            "Unknown role%s: %s." % ("s" if len(unknown) > 1 else "", ", ".join(unknown)),
            code="unknown_role",
        )
    return roles


@service
def organization_create(*, actor, slug: str, name: str, metadata=None) -> Organization:
    policies.check_can_create_organization(actor)
    slug, name = _clean_org_slug(slug), _clean_name(name)
    metadata = _clean_metadata(metadata)
    try:
        with transaction.atomic():
            organization = Organization.objects.create(slug=slug, name=name, metadata=metadata)
    except IntegrityError:
        raise ValidationError(
            'An organization with the slug "%(slug)s" already exists.',
            code="duplicate_slug",
            params={"slug": slug},
        ) from None
    audit.record(
        events.ORGANIZATION_CREATED,
        actor=actor,
        target=organization,
        changes={"slug": [None, slug], "name": [None, name]},
    )
    return organization


@service
def organization_update(*, actor, organization, name=None, metadata=None) -> Organization:
    organization = lock_organization(organization)
    policies.check_can_update_organization(actor, organization)
    changes = {}
    if name is not None:
        name = _clean_name(name)
        if name != organization.name:
            changes["name"] = [organization.name, name]
            organization.name = name
    if metadata is not None:
        metadata = _clean_metadata(metadata)
        if metadata != organization.metadata:
            changes["metadata"] = [organization.metadata, metadata]
            organization.metadata = metadata
    if not changes:
        return organization
    organization.save(update_fields=["name", "metadata"])
    audit.record(events.ORGANIZATION_UPDATED, actor=actor, target=organization, changes=changes)
    return organization


@service
def organization_delete(*, actor, organization) -> None:
    """Refused (409) while the organization has members: remove them first."""
    organization = lock_organization(organization)
    policies.check_can_delete_organization(actor, organization)
    count = Membership.objects.filter(organization=organization).count()
    if count:
        raise ValidationError(
            f"{organization.name} still has {count} member{'s' if count != 1 else ''}; "
            "remove them first.",
            code="has_members",
        )
    audit.record(
        events.ORGANIZATION_DELETED,
        actor=actor,
        target=organization,
        changes={"slug": [organization.slug, None]},
    )
    UserRole.objects.filter(organization=organization).delete()
    organization.delete()


def _held_roles(user, organization) -> list[str]:
    return sorted(
        UserRole.objects.filter(user=user, organization=organization).values_list(
            "role__slug", flat=True
        )
    )


@service
def member_add(*, actor, organization, user, roles=()) -> Membership:
    """Make `user` a member of `organization`, holding `roles` there. Their
    account is not touched. Refused (409) when they are a member already."""
    user = lock_user(user)
    organization = lock_organization(organization)
    member_of = list(Membership.objects.filter(user=user).values_list("organization_id", flat=True))
    policies.check_can_add_member(actor, organization, user, member_of=member_of)
    role_objs = _roles(roles)
    for role in role_objs:
        org_policies.check_can_assign_org_role(actor, organization, user, role)
    if organization.pk in member_of:
        raise ValidationError(
            f"{user.email} is already a member of {organization.name}.", code="already_member"
        )
    membership = Membership.objects.create(user=user, organization=organization)
    UserRole.objects.bulk_create(
        [
            UserRole(user=user, role=role, organization=organization, assigned_by=actor.user)
            for role in role_objs
        ]
    )
    audit.record(
        events.MEMBERSHIP_ADDED,
        actor=actor,
        target=user,
        organization=organization,
        changes={
            "organization": [None, organization.slug],
            "roles": [[], sorted(r.slug for r in role_objs)],
        },
    )
    return membership


@service
def member_remove(*, actor, organization, user) -> bool:
    """End `user`'s membership, and the roles they held there. Returns
    False when they were not a member."""
    user = lock_user(user)
    organization = lock_organization(organization)
    policies.check_can_remove_member(actor, organization, user)
    membership = Membership.objects.filter(user=user, organization=organization).first()
    if membership is None:
        return False
    held = _held_roles(user, organization)
    UserRole.objects.filter(user=user, organization=organization).delete()
    membership.delete()
    audit.record(
        events.MEMBERSHIP_REMOVED,
        actor=actor,
        target=user,
        organization=organization,
        changes={"organization": [organization.slug, None], "roles": [held, []]},
    )
    return True


def _require_member(user, organization) -> None:
    if not Membership.objects.filter(user=user, organization=organization).exists():
        raise ValidationError(
            f"{user.email} is not a member of {organization.name}; add them first.",
            code="not_member",
        )


@service
def org_role_assign(*, actor, organization, user, role) -> bool:
    """Give member `user` the role inside `organization`. False when they
    hold it there already."""
    user = lock_user(user)
    organization = lock_organization(organization)
    policies.check_can_assign_org_role(actor, organization, user, role)
    role = _lock_role(role)
    _require_member(user, organization)
    if UserRole.objects.filter(user=user, role=role, organization=organization).exists():
        return False
    UserRole.objects.create(user=user, role=role, organization=organization, assigned_by=actor.user)
    audit.record(
        events.USER_ROLE_ASSIGNED,
        actor=actor,
        target=user,
        organization=organization,
        changes={
            "roles": [None, role.slug],
            "organization": [organization.slug, organization.slug],
        },
    )
    return True


@service
def org_role_remove(*, actor, organization, user, role) -> bool:
    user = lock_user(user)
    organization = lock_organization(organization)
    policies.check_can_remove_org_role(actor, organization, user, role)
    held = UserRole.objects.filter(user=user, role=role, organization=organization).first()
    if held is None:
        return False
    held.delete()
    audit.record(
        events.USER_ROLE_REMOVED,
        actor=actor,
        target=user,
        organization=organization,
        changes={
            "roles": [role.slug, None],
            "organization": [organization.slug, organization.slug],
        },
    )
    return True


@service
def member_roles_set(*, actor, organization, user, roles) -> list[str]:
    """Make `user`'s roles in `organization` exactly `roles` (slugs),
    each change through its own guard."""
    wanted = {r.slug: r for r in _roles(roles)}
    held = set(_held_roles(user, organization))
    _require_member(user, organization)
    for slug in sorted(set(wanted) - held):
        org_role_assign(actor=actor, organization=organization, user=user, role=wanted[slug])
    for role in Role.objects.filter(slug__in=held - set(wanted)).order_by("slug"):
        org_role_remove(actor=actor, organization=organization, user=user, role=role)
    return _held_roles(user, organization)
