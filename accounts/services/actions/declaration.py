"""What a declaration of an action on a user is made of: `Param` (one
parameter, from which every door makes its field), the state rules'
helpers, `ApiDoor` and `UserAction`. The declarations themselves are in
the package (`accounts.services.actions.USER_ACTIONS`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.selectors import user_locks
from accounts.services import users as user_services
from rbac import policies
from rbac.models import Role, UserRole

# --- parameters ---------------------------------------------------------------

TEXT = "text"  # free text (a reason), stripped and cut at max_length
BAN_END = "ban_end"  # when a ban ends: None (permanently) or a future moment
ROLE = "role"  # a role's slug; loaded as the Role
CHOICE = "choice"  # one of `choices`
FLAG = "flag"  # yes or no
CONFIRM_EMAIL = "confirm_email"  # the target's address typed again


@dataclass(frozen=True)
class Param:
    """One argument of an action's service, described once: the page's
    form field, the API field, the batch's cleaning and the admin form are
    made from it."""

    name: str
    kind: str = TEXT
    label: str = ""
    help: str = ""
    required: bool = False
    max_length: int = 500
    choices: tuple[tuple[str, str], ...] = ()
    default: object = None
    # A batch fills it from each user (the confirmation of an address)
    # instead of asking for it once.
    per_user: Callable | None = None

    def clean(self, value):
        """The value as JSON (what a job stores), or a ValidationError."""
        if self.kind == TEXT or self.kind == CONFIRM_EMAIL:
            text = str(value or "").strip()[: self.max_length]
            if self.required and not text:
                raise ValidationError(f"{self.label or self.name} is required.", code="required")
            return text
        if self.kind == BAN_END:
            return _clean_ban_end(value)
        if self.kind == ROLE:
            return _clean_role(value)
        if self.kind == CHOICE:
            value = value or self.default
            if value not in {c for c, _ in self.choices}:
                names = ", ".join(c for c, _ in self.choices)
                raise ValidationError(
                    "%(label)s must be one of: %(names)s.",
                    code="invalid_choice",
                    params={"label": self.label or self.name, "names": names},
                )
            return value
        if self.kind == FLAG:
            return bool(value) if value is not None else bool(self.default)
        raise ValueError(f"unknown parameter kind {self.kind}")

    def load(self, value):
        """A cleaned value as the service's argument."""
        if self.kind == BAN_END:
            return datetime.fromisoformat(value) if value else None
        if self.kind == ROLE:
            return Role.objects.get(slug=value)
        return value


def _clean_ban_end(value):
    if isinstance(value, str) and value:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError("The ban end is not a valid date.", code="invalid") from None
    if not value:
        return None
    if not isinstance(value, datetime):
        raise ValidationError("The ban end is not a valid date.", code="invalid")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    user_services.ban_end(value)  # refuses an end in the past
    return value.isoformat()


def _clean_role(value):
    slug = str(value or "")[:50]
    role = Role.objects.filter(slug=slug).first() if slug else None
    if role is None:
        raise ValidationError("Choose a role.", code="role_required")
    if role.slug == "owner":
        raise ValidationError(
            "The owner role cannot be assigned or removed this way; transfer ownership instead.",
            code="owner_role",
        )
    return role.slug


REASON = Param("reason", TEXT, label="Reason", help="Written to the audit log.")
BAN_UNTIL = Param("until", BAN_END, label="Banned until")
ROLE_PARAM = Param("role", ROLE, label="Role", required=True)


# --- state rules ----------------------------------------------------------------
# Each answers, for a user read under its lock, why the action has nothing
# to do ("" when it applies). `facts` holds what a rule needs about many
# users at once (`UserAction.facts_for`).

DELETED = "Deleted; restore the user first."


def _not_deleted(user, facts) -> str:
    return DELETED if user.deleted_at else ""


def _when(test, words: str) -> Callable:
    def rule(user, facts) -> str:
        return _not_deleted(user, facts) or ("" if test(user, facts) else words)

    return rule


def _always(user, facts) -> str:
    return ""


def _locks(users, kwargs) -> dict:
    return {"locked": user_locks(users)}


def _stops_acting(user_ids, kwargs) -> dict:
    """Banned, disabled or deleted users stop managing their organizations."""
    return {"exclude_user_ids": list(user_ids)}


def _loses_role(user_ids, kwargs) -> dict | None:
    """Losing a global role that manages members or roles may leave an
    organization unmanaged."""
    role = kwargs.get("role")
    if role is None or not policies.MANAGING_PERMISSIONS & set(role.permissions or ()):
        return None
    return {"global_losers": list(user_ids)}


def _role_holders(users, kwargs) -> dict:
    role = kwargs.get("role")
    if role is None:
        return {"holders": set()}
    holders = UserRole.objects.filter(
        role=role, user_id__in=[u.pk for u in users], organization__isnull=True
    ).values_list("user_id", flat=True)
    return {"holders": set(holders)}


@dataclass(frozen=True)
class ApiDoor:
    """How the API offers the single action: `POST /users/{id}/<path>` by
    default, answering the user; `answer` names another shape."""

    method: str = "post"
    path: str | None = None  # None: the action's name; "": the user's own URL
    status: int = 200
    answer: str = "user"  # "user", "none", "reset-token", "magic-link"


@dataclass(frozen=True)
class UserAction:
    name: str
    label: str
    title: str
    permission: str
    event: str
    service: Callable
    guard: Callable
    state: Callable = _always
    params: tuple[Param, ...] = ()
    # Parameters the guard is asked with, besides the actor and the user.
    guard_params: tuple[str, ...] = ()
    facts: Callable | None = None
    description: str = ""
    done: str = "Done."
    danger: bool = True
    # Irreversible: the person proves they are there (a fresh sign-in, or
    # the current password through a key or in a batch).
    reauth: bool = False
    batch: bool = True
    # Where the user page offers it: "primary", "more" (the menu), or ""
    # when another section of the page offers it (the credentials section).
    menu: str = "primary"
    api: ApiDoor | None = field(default_factory=ApiDoor)
    # The keep-a-manager rule: `at_stake(user_ids, kwargs)` describes, as
    # `lock_organizations_at_stake`'s keywords, the organizations whose
    # managers the action could take away (None: none). A batch locks them
    # all up front, in id order, after its users and before any change, so
    # that no batch takes them in per-user order (a deadlock with a single
    # change); each user's service then finds them already held.
    at_stake: Callable | None = None

    @property
    def key(self) -> str:
        """The name as batch forms and job rows spell it."""
        return self.name.replace("-", "_")

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def clean(self, values, *, batch: bool = False) -> dict:
        """Validate the parameters (a mapping); JSON-serialisable. A batch
        leaves out those filled in per user."""
        values = dict(values or {})
        return {
            p.name: p.clean(values.get(p.name)) for p in self.params if not (batch and p.per_user)
        }

    def load(self, cleaned: dict) -> dict:
        return {p.name: p.load(cleaned[p.name]) for p in self.params if p.name in cleaned}

    def per_user(self, user) -> dict:
        return {p.name: p.per_user(user) for p in self.params if p.per_user}

    def facts_for(self, users, kwargs=None) -> dict:
        return self.facts(list(users), kwargs or {}) if self.facts else {}

    def why_not(self, user, facts=None, kwargs=None) -> str:
        """Why `user` needs nothing from this action, or ''."""
        if facts is None:
            facts = self.facts_for([user], kwargs)
        return self.state(user, facts)

    def applies(self, user, facts=None, kwargs=None) -> bool:
        return not self.why_not(user, facts, kwargs)

    def check(self, actor, user, *, batch_id=None, **kwargs) -> None:
        """The action's named guard, with the parameters it judges."""
        wanted = {k: v for k, v in kwargs.items() if k in self.guard_params}
        self.guard(actor, user, batch_id=batch_id, **wanted)
