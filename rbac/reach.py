"""What an actor reaches: the users, organizations and audit events it may
see (`Reach`, mixed into `rbac.actor.Actor`). Every list, count, export and
search narrows its queryset here; what the actor may *do* to what it sees
is each guard's answer (`rbac.policies`).

The mixin reads the actor's own attributes: `is_active`, `credential`,
`acting_for`, `pk`, `global_permissions`, `organization_ids`, `grants` and
`has`.
"""

from __future__ import annotations

from django.db.models import CharField, Q
from django.db.models.functions import Cast

from accounts.models import User
from audit.models import AuditEvent
from rbac import credentials
from rbac.models import Membership, Organization

# Reaches (`Actor.reach`).
EVERYONE = "everyone"
NOBODY = "nobody"
_NO_CREDENTIAL = (credentials.UNATTACHED, credentials.ANONYMOUS)


class Reach:
    def visible_users(self, queryset=None):
        """The users this actor may see (`queryset` narrowed to them): with
        `users:read` globally (or no grant in any organization, as before
        organizations), every user -- what it may *do* to them is each
        guard's answer; with grants only inside organizations, the members
        of those organizations and themselves. An anonymous visitor or a
        user object no door gave a credential reaches nobody. Outside it, a
        user "does not exist" (404)."""
        queryset = User.objects.all() if queryset is None else queryset
        reach = self._reach()
        if reach == NOBODY:
            return queryset.none()
        if reach == EVERYONE:
            return queryset
        # One IN over (members UNION me), not "me OR IN members": with the OR,
        # PostgreSQL walks the list's sort index and tests every user against
        # the members (~50,000 rows to find a page of a 1,000-member
        # organization among 1M users: 965 ms); with one set it starts from
        # the organization's memberships (10-14 ms, EXPLAIN ANALYZE).
        members = (
            Membership.objects.filter(organization_id__in=self.organization_ids)
            .order_by()
            .values("user_id")
        )
        me = User.objects.filter(pk=self.pk).order_by().values("pk")
        return queryset.filter(pk__in=members.union(me))

    @property
    def reach_organization_ids(self) -> frozenset | None:
        """The organizations whose members are exactly the users this actor
        sees, when its reach is organizations' members; else None. An actor
        holds grants in an organization only while it is a member there
        (`rbac.selectors.user_grants`), so "members and me" is the members
        alone -- except when viewing as someone: the operator (me) need not
        be a member of the viewed user's organizations."""
        if self.acting_for is not None or self._reach() in (EVERYONE, NOBODY):
            return None
        return self.organization_ids

    @property
    def sole_organization_id(self):
        """The organization whose members are exactly the users this actor
        sees (`reach_organization_ids`, when that is one), else None."""
        organizations = self.reach_organization_ids
        return next(iter(organizations)) if organizations and len(organizations) == 1 else None

    def visible_members(self, queryset=None):
        """`visible_users(queryset)` as a join on the memberships of the
        actor's one organization (`sole_organization_id`; None for any
        other reach), so the caller may order and walk the users by the
        membership's columns: each user is there once (one membership a
        user and organization), and `membership__...` names that row. The
        users list reads an organization administrator's newest-first page
        this way from `rbac_membership_newest` (`accounts.selectors.listing`)."""
        organization_id = self.sole_organization_id
        if organization_id is None:
            return None
        queryset = User.objects.all() if queryset is None else queryset
        return queryset.filter(membership__organization_id=organization_id)

    @property
    def reach(self) -> str:
        """A name for the set `visible_users` answers, for caching figures
        counted over it: everyone, nobody, or the organizations' ids."""
        return self._reach()

    def _reach(self) -> str:
        if not self.is_active or self.credential.kind in _NO_CREDENTIAL:
            return NOBODY
        if self.acting_for is not None and not getattr(self.acting_for, "is_active", False):
            return NOBODY
        # Impersonation: the grants are the viewed user's within the
        # operator's (`grants`), so the reach is theirs too.
        if "users:read" in self.global_permissions or not self.organization_ids:
            return EVERYONE
        return "orgs:" + ",".join(str(o) for o in sorted(self.organization_ids))

    def visible_organizations(self, queryset=None):
        """Organizations this actor may see: all with organizations:read
        globally, else those it holds a permission in."""
        queryset = Organization.objects.all() if queryset is None else queryset
        scope = self._organization_scope()
        if scope is NOBODY:
            return queryset.none()
        if scope is EVERYONE:
            return queryset
        return queryset.filter(pk__in=scope)

    @property
    def organization_reach(self) -> str:
        """A name for the set `visible_organizations` answers, for caching
        what is read from it: everyone, nobody, or the organizations' ids."""
        scope = self._organization_scope()
        if scope is NOBODY or scope is EVERYONE:
            return scope
        return "orgs:" + ",".join(str(o) for o in sorted(scope))

    def _organization_scope(self):
        """NOBODY, EVERYONE or the ids: the one decision both read."""
        if not self.is_active or self.credential.kind in _NO_CREDENTIAL:
            return NOBODY
        if "organizations:read" in self.global_permissions:
            return EVERYONE
        return self.organization_ids

    def visible_events(self, queryset=None):
        """The audit events this actor may see: every event with
        `audit:read` globally; with `audit:read` only inside organizations,
        the events that happened in those organizations (recorded with
        one: `AuditEvent.organization_id`), and of the events recorded with
        none -- about a whole account -- those about their members and
        about the actor; none otherwise. What happened in another
        organization to a member they share stays that organization's."""
        queryset = AuditEvent.objects.all() if queryset is None else queryset
        if not self.has("audit:read"):
            return queryset.none()
        if "audit:read" in self.global_permissions:
            return queryset
        orgs = self.audit_organization_ids
        users = (
            Membership.objects.filter(organization_id__in=orgs)
            .annotate(sid=Cast("user_id", CharField()))
            .values("sid")
        )
        account_wide = Q(organization_id__isnull=True) & (
            Q(target_type="user", target_id__in=users)
            | Q(target_type="user", target_id=str(self.pk))
            # Recorded before events named their organization.
            | Q(target_type="organization", target_id__in=[str(o) for o in orgs])
        )
        return queryset.filter(Q(organization_id__in=orgs) | account_wide)

    @property
    def audit_organization_ids(self) -> list:
        """The organizations whose audit events this actor reads there
        (`audit:read` held in them)."""
        return sorted(o for o, perms in self.grants[1].items() if "audit:read" in perms)
