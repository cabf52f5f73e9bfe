""" "Why can X do P (over Y)?" -- and why not: the answer names where each
grant comes from (globally, or the organization a role is held in) and,
when the answer is no, the organization and the rule that stop it.

It reads what the guards read (`Actor.grants`, `permissions_over`, the
hierarchy) for a person as a dashboard session of theirs would hold it. An
organization the viewer cannot see is named "another organization"."""

from __future__ import annotations

from dataclasses import dataclass, field

from rbac.actor import Actor, as_actor, organizations_of
from rbac.models import Organization, UserRole
from rbac.permissions import CATALOG, GLOBAL_ONLY
from rbac.policies.base import target_permissions


@dataclass
class Answer:
    allowed: bool
    summary: str
    reasons: list[str] = field(default_factory=list)


def _names(viewer, org_ids) -> dict:
    visible = set(
        as_actor(viewer)
        .visible_organizations()
        .filter(pk__in=list(org_ids))
        .values_list("pk", flat=True)
    )
    names = dict(Organization.objects.filter(pk__in=list(org_ids)).values_list("pk", "name"))
    return {pk: names.get(pk, "?") if pk in visible else "another organization" for pk in org_ids}


def _sources(user, permission: str, names: dict) -> list[str]:
    """Where `user` holds `permission`: the owner, direct grants, each role
    (and the organization it is held in)."""
    out = []
    if user.is_owner:
        out.append("the owner holds every permission")
    if permission in (user.direct_permissions or []):
        out.append("a direct grant (global)")
    rows = UserRole.objects.filter(user=user, role__permissions__icontains=f'"{permission}"')
    for name, org_id in rows.values_list("role__name", "organization_id").order_by("role__name"):
        if org_id is None:
            out.append(f"the role {name}, held globally")
        elif permission in GLOBAL_ONLY:
            out.append(
                f"the role {name}, held in {names.get(org_id, '?')} -- but {permission} is "
                "global-only, so a role held in an organization does not confer it"
            )
        else:
            out.append(f"the role {name}, held in {names.get(org_id, '?')}")
    return out


def explain(viewer, user, permission: str, target=None) -> Answer:
    """May `user` do `permission` (over `target`, a user)? With the sources
    of the grant and, when not, the organization and the rule."""
    if permission not in CATALOG:
        return Answer(False, f"{permission} is not a permission in the catalog.")
    if not user.is_active:
        return Answer(False, f"{user.email} cannot act: the account is {user.status}.")
    actor = Actor.for_session(user, "explain")
    global_perms, by_org = actor.grants
    org_ids = set(by_org)
    target_orgs = set(organizations_of(target)) if target is not None else set()
    names = _names(viewer, org_ids | target_orgs)
    reasons = _sources(user, permission, names)
    held_in = sorted(names[o] for o, perms in by_org.items() if permission in perms)
    if target is None:
        if permission in global_perms:
            return Answer(True, f"Yes: {user.email} holds {permission} globally.", reasons)
        if held_in:
            return Answer(
                True,
                f"Only inside {', '.join(held_in)}: over those organizations' members and "
                "their own actions, never globally.",
                reasons,
            )
        return Answer(False, f"No: {user.email} holds {permission} nowhere.", reasons)
    if permission not in actor.permissions_over(target):
        if permission in global_perms or not held_in:
            return Answer(False, f"No: {user.email} holds {permission} nowhere.", reasons)
        if not target_orgs:
            rule = (
                f"{target.email} belongs to no organization, so only a global grant applies "
                f"to their account; {user.email} holds {permission} only in "
                f"{', '.join(held_in)}."
            )
        else:
            lacking = sorted(names[o] for o in target_orgs if permission not in by_org.get(o, ()))
            rule = (
                f"{target.email} also belongs to {', '.join(lacking)}, where {user.email} "
                f"lacks {permission}: an action on an account needs the permission in every "
                "organization the user belongs to (or globally)."
            )
        return Answer(False, f"No, over {target.email}.", [*reasons, rule])
    if target.pk == user.pk:
        return Answer(True, f"Yes, over their own account ({permission}).", reasons)
    if target.is_owner and not user.is_owner:
        return Answer(False, "No: nobody but the owner acts on the owner.", reasons)
    held = actor.over(target).permissions
    extra = sorted(target_permissions(actor, target) - held)
    if not user.is_owner and (extra or target_permissions(actor, target) == held):
        rule = (
            f"the hierarchy: {target.email} also holds {', '.join(extra)}."
            if extra
            else f"the hierarchy: {target.email} holds the same permissions (a peer)."
        )
        return Answer(False, f"No, over {target.email}: {rule}", reasons)
    return Answer(True, f"Yes, over {target.email}.", reasons)
