"""Who is acting, through what: the one value every service, guard and
read is given as `actor=`.

Each door builds one, once:

- a dashboard request: `accounts.middleware.SessionActivityMiddleware`
  sets `request.actor` (a public attribute, like `request.user`:
  `Actor.for_session`, or `Actor.anonymous()` when nobody is signed in);
- the JSON API: `ApiKeyAuth` returns `Actor.for_api_key` as `request.auth`;
- a background job: the job runner builds `Actor.for_job` from the person
  who queued it and the scopes of the credential they queued it with;
- a management command: `Actor.console`.

The actor holds the person (`user`), the credential and where it came
from (`credential.session_key`, `key_id`, `job_id`), and the permissions it
holds: the person's own intersected with the credential's scopes, computed
once per Actor.

Impersonation (`Actor.for_impersonation`): `user` stays the operator who
really acts (audit rows name them as the actor), `acting_for` is the user
whose dashboard they see, and `read_only` makes every service refuse
(`rbac.policies.impersonation.check_may_write`, asked by `@service`). The
permissions and reach are the viewed user's, bounded by the operator's.

It answers "may I do P (over this target)?" (`has`, `may`) and "which users
/ audit events may I see?" (`visible_users`, `visible_events`, querysets in
the way of NetBox's `restrict()` and Wagtail's
`instances_user_has_permission_for`). Grants are global or held inside an
organization (`rbac.selectors.user_grants`): a global grant applies to every
target, a scoped one to the members of its organization, and an action on a
user's account needs the permission over *every* organization the user
belongs to (a user in none: globally). `over(user)` and `within(org)` are
this actor with only the permissions that apply there, so the guards'
comparisons (hierarchy, escalation) read the right set without knowing
about organizations.

Guards keep reading `actor.pk`, `actor.is_owner`, ... through the read-only
proxies below; anything that stores the person (a foreign key, an audit
target) stores `actor.user`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from django.contrib.auth.models import AnonymousUser

from accounts.models import User
from rbac import credentials
from rbac.credentials import Credential
from rbac.models import Membership, Organization
from rbac.reach import Reach
from rbac.selectors import user_effective_permissions, user_grants

logger = logging.getLogger(__name__)

_NO_CREDENTIAL = (credentials.UNATTACHED, credentials.ANONYMOUS)


@dataclass(frozen=True, eq=False)
class Actor(Reach):
    user: object
    credential: Credential
    # Impersonation: the person an operator views the dashboard as, and
    # whether they may only look (`for_impersonation`).
    acting_for: object = None
    read_only: bool = False
    # Targets' permissions the caller computed in advance for many users at
    # once ({pk: permissions}, `rbac.selectors.prime_permissions`), read by
    # guards that compare the actor with a target (`target_permissions`).
    known_permissions: Mapping = field(default_factory=dict, repr=False)
    # Targets' organizations computed in advance ({pk: {organization id:
    # name}}, `rbac.selectors.prime_organizations`), read by
    # `permissions_over` and a refusal's words instead of a query per user.
    known_organizations: Mapping = field(default_factory=dict, repr=False)

    # --- built at the doors ------------------------------------------------

    @classmethod
    def for_session(cls, user, session_key: str, recent_proof=None) -> Actor:
        """A dashboard session: every scope; a fresh proof when the session
        re-authenticated within the window (`recent_proof()`, asked only
        when a guard needs it)."""
        return cls(
            user,
            Credential(credentials.SESSION, recent_proof=recent_proof, session_key=session_key),
        )

    @classmethod
    def for_impersonation(cls, operator, user, session_key: str, expires_at) -> Actor:
        """The operator's dashboard session viewing as `user` until
        `expires_at`: read-only, never a fresh proof, the viewed user's
        permissions bounded by the operator's own."""
        return cls(
            operator,
            Credential(credentials.IMPERSONATION, session_key=session_key, expires_at=expires_at),
            acting_for=user,
            read_only=True,
        )

    @classmethod
    def for_api_key(cls, user, key) -> Actor:
        """An API key: its scopes, never a fresh proof by itself."""
        return cls(
            user,
            Credential(
                credentials.API_KEY,
                frozenset(key.scopes or ()),
                key_id=key.pk,
                key_name=key.name,
            ),
        )

    @classmethod
    def for_job(cls, user, job, scopes) -> Actor:
        """Work a person queued (a batch or import job), run later by a
        worker or by an eager task inside the request alike: the scopes of
        the credential that queued it (`scopes` None: a session's every
        scope), never a fresh proof, never the operator's shell."""
        scopes = frozenset(scopes) if scopes is not None else None
        return cls(user, Credential(credentials.JOB, scopes, job_id=getattr(job, "pk", job)))

    @classmethod
    def console(cls, user) -> Actor:
        """The operator's shell (a management command, a test): every scope
        and a fresh proof -- whoever runs it already holds the server."""
        return cls(user, credentials.CONSOLE_CREDENTIAL)

    @classmethod
    def system(cls) -> Actor:
        """Scheduled work no person queued (a beat task carrying out a
        rule): no person and no permission; audit rows name "system".
        Only guards written for it let it through (`check_can_purge`)."""
        return cls(None, credentials.SYSTEM_CREDENTIAL)

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(AnonymousUser(), credentials.ANONYMOUS_CREDENTIAL)

    def knowing(self, permissions: Mapping, organizations: Mapping | None = None) -> Actor:
        """This actor with targets' permissions computed in advance
        ({pk: permissions}) and, optionally, their organizations ({pk:
        {organization id: name}}), so guards over many users run no query
        each."""
        known = replace(
            self,
            known_permissions={**self.known_permissions, **permissions},
            known_organizations={**self.known_organizations, **(organizations or {})},
        )
        for computed in ("grants", "permissions"):  # computed already: the same answer
            if computed in self.__dict__:
                known.__dict__[computed] = self.__dict__[computed]
        return known

    # --- what it holds -----------------------------------------------------

    @functools.cached_property
    def grants(self) -> tuple[frozenset[str], Mapping]:
        """(global permissions, {organization id: permissions held there}),
        each intersected with the credential's scopes; nothing for an
        anonymous visitor or a user object no door gave a credential."""
        user = self.user
        if self.credential.kind in _NO_CREDENTIAL:
            return frozenset(), {}
        if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
            return frozenset(), {}
        global_perms, by_org = user_grants(user)
        if self.acting_for is not None:
            # Viewing as someone: what they hold, where they hold it, never
            # more than the operator holds there.
            seen = self.acting_for
            if not getattr(seen, "is_active", False):
                return frozenset(), {}
            seen_global, seen_by_org = user_grants(seen)
            by_org = {
                org: (global_perms | by_org.get(org, frozenset())) & perms
                for org, perms in seen_by_org.items()
            }
            global_perms = global_perms & seen_global
        scopes = self.credential.scopes
        if scopes is not None:
            global_perms = global_perms & scopes
            by_org = {org: perms & scopes for org, perms in by_org.items()}
        return global_perms, {org: perms for org, perms in by_org.items() if perms}

    @functools.cached_property
    def permissions(self) -> frozenset[str]:
        """Every permission this actor holds somewhere (globally or in some
        organization): what a page asks before showing a section. Over a
        given user or organization, `over(user)` / `within(org)` hold only
        what applies there."""
        global_perms, by_org = self.grants
        return global_perms.union(*by_org.values())

    @property
    def global_permissions(self) -> frozenset[str]:
        return self.grants[0]

    @property
    def organization_ids(self) -> frozenset:
        """The organizations this actor holds some permission in."""
        return frozenset(self.grants[1])

    def permissions_in(self, organization) -> frozenset[str]:
        """What applies inside `organization`: global grants and the ones
        held there."""
        global_perms, by_org = self.grants
        org_id = getattr(organization, "pk", organization)
        return global_perms | by_org.get(org_id, frozenset())

    def permissions_over(self, user) -> frozenset[str]:
        """What applies to `user`'s account: global grants, plus what the
        actor holds in *every* organization the user belongs to (a user in
        no organization is managed globally only)."""
        global_perms, by_org = self.grants
        if not by_org or user is None or getattr(user, "pk", None) is None:
            return global_perms
        orgs = self._organizations_of(user)
        if not orgs:
            return global_perms
        common = frozenset.intersection(*(by_org.get(o, frozenset()) for o in orgs))
        return global_perms | common

    def lacking_organizations(self, permission: str, user) -> list[str]:
        """The names of the organizations `user` belongs to in which this
        actor lacks `permission` (for the refusal's words)."""
        _, by_org = self.grants
        missing = [o for o in self._organizations_of(user) if permission not in by_org.get(o, ())]
        known = self.known_organizations.get(user.pk)
        if known is not None:
            return sorted(known[o] for o in missing)
        return list(
            Organization.objects.filter(pk__in=missing)
            .order_by("name")
            .values_list("name", flat=True)
        )

    def _organizations_of(self, user):
        known = self.known_organizations.get(user.pk)
        return list(known) if known is not None else organizations_of(user)

    def _narrowed(self, permissions) -> Actor:
        narrowed = replace(self)
        narrowed.__dict__["grants"] = self.grants
        narrowed.__dict__["permissions"] = permissions
        return narrowed

    def over(self, user) -> Actor:
        """This actor with only the permissions that apply to `user`'s
        account (`permissions_over`)."""
        if user is None or isinstance(user, Actor) or not self.grants[1]:
            return self
        return self._narrowed(self.permissions_over(user) & self.permissions)

    def within(self, organization) -> Actor:
        """This actor with only the permissions that apply inside
        `organization` (None: the global ones)."""
        if organization is None:
            return self._narrowed(self.global_permissions)
        return self._narrowed(self.permissions_in(organization))

    def globally(self) -> Actor:
        """This actor with only its global permissions: for what acts on the
        whole installation (a global role, a direct grant, a new account
        in no organization)."""
        return self.within(None)

    @property
    def stored_scopes(self) -> list[str] | None:
        """The scopes to store with work that runs later (a job), given back
        to `for_job` when it runs (None: every scope)."""
        scopes = self.credential.scopes
        return sorted(scopes) if scopes is not None else None

    def target_permissions(self, user) -> frozenset[str]:
        """What another user holds (to compare with this actor's): from
        `known_permissions` when the caller computed it, else asked now."""
        if user is None:
            return frozenset()
        known = self.known_permissions.get(user.pk)
        if known is not None:
            return known
        return user_effective_permissions(user)

    def has(self, permission: str) -> bool:
        return self.is_authenticated and self.is_active and permission in self.permissions

    def may(self, permission: str, target=None) -> bool:
        """May I do `permission` over `target`? A user: over their account
        (`permissions_over`); an organization: inside it; anything else
        (an API key, a job: over the user it belongs to; nothing: anywhere)."""
        if not (self.is_authenticated and self.is_active) or permission not in self.permissions:
            return False
        if isinstance(target, Organization):
            return permission in self.permissions_in(target)
        if isinstance(target, User):
            return permission in self.permissions_over(target)
        owner = getattr(target, "user", None)
        if isinstance(owner, User):
            return permission in self.permissions_over(owner)
        return permission in self.permissions

    @property
    def person(self):
        """Whose dashboard this is: the user viewed as while impersonating,
        else the person who acts. Pages about "my account" show this one."""
        return self.acting_for if self.acting_for is not None else self.user

    @property
    def is_impersonating(self) -> bool:
        return self.acting_for is not None

    # --- read-only proxies of the person, for guards ------------------------

    @property
    def pk(self):
        return getattr(self.user, "pk", None)

    @property
    def id(self):
        return getattr(self.user, "pk", None)

    @property
    def is_authenticated(self) -> bool:
        return bool(getattr(self.user, "is_authenticated", False))

    @property
    def is_active(self) -> bool:
        return self.is_authenticated and bool(self.user.is_active)

    @property
    def is_owner(self) -> bool:
        # Viewing as someone: their standing, never the operator's.
        return bool(getattr(self.person, "is_owner", False))

    @property
    def email(self) -> str:
        return getattr(self.user, "email", "")

    @property
    def name(self) -> str:
        return getattr(self.user, "name", "")

    @property
    def display_name(self) -> str:
        return getattr(self.user, "display_name", "")

    def get_full_name(self) -> str:
        return self.user.get_full_name() if self.is_authenticated else ""

    def __str__(self) -> str:
        return "system" if self.user is None else str(self.user)


def organizations_of(user) -> list:
    """The ids of the organizations `user` belongs to."""
    rows = Membership.objects.filter(user_id=user.pk).values_list("organization_id", flat=True)
    return list(rows)


def as_actor(actor) -> Actor | None:
    """The Actor for what a caller passed as `actor=`: an Actor as it is;
    a bare user object outside any request is the operator's shell (tests,
    commands and the shell call services with a User); a bare user object
    inside a request fails closed -- no permission at all, and a warning,
    since some entry point forgot to pass `request.actor`."""
    if actor is None or isinstance(actor, Actor):
        return actor
    if isinstance(actor, User):
        if credentials.in_request():
            logger.warning("a request acts as user %s without a credential", actor.pk)
            return Actor(actor, credentials.UNATTACHED_CREDENTIAL)
        return Actor.console(actor)
    if isinstance(actor, AnonymousUser):
        return Actor.anonymous()
    raise TypeError(f"not an actor: {actor!r}")


def person_of(actor):
    """The person behind `actor` -- what a foreign key to the acting user
    stores (`created_by`, `assigned_by`, ...); None for no actor (the
    system)."""
    return None if actor is None else as_actor(actor).user
