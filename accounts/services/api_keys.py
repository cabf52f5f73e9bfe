"""API keys: `hv_` + 256 random bits, shown once, stored as a SHA-256 hash.

A key acts as its user with the intersection of the user's *current*
permissions and the key's scopes, so demoting, banning or deleting the user
weakens or kills the key at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services.common import lock_user
from accounts.services.jobs import jobs_stop_with_credentials
from accounts.services.validation import resolve_grants
from audit import events
from audit import services as audit
from core.services import service, unless_read_only
from rbac import policies
from rbac.actor import Actor, as_actor
from rbac.permissions import DASHBOARD_ONLY_PERMISSIONS

KEY_PREFIX = "hv_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_EXPIRY_DAYS = 3650


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _new_key() -> tuple[str, str, str]:
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    return raw, raw[:10], hash_key(raw)


@service
def api_key_create(
    *,
    actor,
    name: str,
    scopes=(),
    template: str | None = None,
    expires_in_days: int | None = None,
    user=None,
    current_password: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for `user` (default: the actor). Returns (key, plaintext);
    the plaintext is never stored. Guards: api-keys:create; scopes within the
    actor's own permissions (escalation); a key for someone else follows
    the hierarchy rule; made through a key, the user's `current_password`.
    A key made through a key records it as its `parent` and is revoked
    with it."""
    action = events.API_KEY_CREATED
    policies.check_permission(actor, "api-keys:create", action=action)
    owner = user or actor.user
    if owner is not None and owner.pk != actor.pk:
        # Lock, then guard: the hierarchy judges the owner as they are
        # under the lock (not a copy read before a promotion).
        owner = lock_user(owner)
    # A key cannot use what only a dashboard session can (impersonation).
    wanted = [
        p
        for p in resolve_grants(template=template, permissions=scopes)
        if p not in DASHBOARD_ONLY_PERMISSIONS
    ]
    if not wanted:
        raise ValidationError("Choose at least one permission for the key.", code="no_scopes")
    policies.check_can_create_api_key(actor, owner, wanted, password=current_password)
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the key a name.", code="name_required")
    expires_at = None
    if expires_in_days is not None:
        if not 1 <= int(expires_in_days) <= MAX_EXPIRY_DAYS:
            raise ValidationError(
                f"Expiry must be between 1 and {MAX_EXPIRY_DAYS} days.", code="bad_expiry"
            )
        expires_at = timezone.now() + timedelta(days=int(expires_in_days))
    raw, prefix, digest = _new_key()
    key = ApiKey.objects.create(
        user=owner,
        name=name[:100],
        prefix=prefix,
        key_hash=digest,
        scopes=sorted(wanted),
        created_by=actor.user,
        expires_at=expires_at,
        parent_id=as_actor(actor).credential.key_id,
    )
    audit.record(
        action,
        actor=actor,
        target=key,
        changes={
            "name": [None, key.name],
            "user": [None, owner.email],
            "scopes": [[], key.scopes],
            "expires_at": [None, expires_at.isoformat() if expires_at else None],
            **({"parent": [None, str(key.parent_id)]} if key.parent_id else {}),
        },
    )
    return key, raw


@service
def api_key_revoke(*, actor, key: ApiKey, current_password: str | None = None) -> ApiKey:
    """Revoke a key for good. Guard: `check_can_revoke_api_key` (another
    credential of your own needs a fresh proof: through an API key,
    `current_password`)."""
    action = events.API_KEY_REVOKED
    # Lock, then guard: the key's user (the hierarchy's subject) first, then
    # the key -- the order in which a ban revokes a user's keys.
    holder = lock_user(key.user_id)
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    key.user = holder
    policies.check_can_revoke_api_key(actor, key, password=current_password)
    if key.revoked_at:
        return key
    key.revoked_at = timezone.now()
    key.revoked_reason = "revoked"
    key.save(update_fields=["revoked_at", "revoked_reason"])
    audit.record(action, actor=actor, target=key, changes={"revoked": [False, True]})
    _keys_ended([key.pk], actor=actor)
    return key


def _keys_ended(key_ids, *, actor=None) -> None:
    """What ends with keys just revoked: the keys they made, and theirs
    (each audited, with the key it was made through), and the jobs they
    queued (`jobs_stop_with_credentials`)."""
    ended = list(key_ids)
    parents = list(key_ids)
    while parents:
        children = list(
            ApiKey.objects.select_for_update()
            .filter(parent_id__in=parents, revoked_at__isnull=True)
            .select_related("parent")
        )
        if not children:
            break
        ApiKey.objects.filter(pk__in=[c.pk for c in children]).update(
            revoked_at=timezone.now(), revoked_reason=PARENT_REVOKED
        )
        for child in children:
            audit.record(
                events.API_KEY_REVOKED,
                actor=actor,
                target=child,
                reason=f"Made through {child.parent}, which was revoked.",
                changes={"revoked": [False, True], "parent": str(child.parent_id)},
            )
        parents = [c.pk for c in children]
        ended += parents
    jobs_stop_with_credentials(key_ids=ended)


PARENT_REVOKED = "parent key revoked"


def api_keys_revoke_for_users(user_ids, *, reason: str) -> int:
    """`api_keys_revoke_all` for many users at once (batch actions); the
    keys made through them are revoked too (`_keys_ended`)."""
    live = ApiKey.objects.filter(user_id__in=list(user_ids), revoked_at__isnull=True)
    return api_keys_revoke(live.values_list("pk", flat=True), reason=reason)


def api_keys_revoke(key_ids, *, reason: str) -> int:
    """Revoke the live keys `key_ids` for good (the caller found them, and
    checks and records why), and what ends with them (`_keys_ended`). No
    query when `key_ids` is empty."""
    key_ids = list(key_ids)
    if not key_ids:
        return 0
    revoked = ApiKey.objects.filter(pk__in=key_ids, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason[:100]
    )
    _keys_ended(key_ids)
    return revoked


def api_keys_revoke_all(user, *, reason: str) -> int:
    """Revoke every live key of `user` for good, with the reason shown in
    the keys list ("banned", "deleted", "disabled", "no management
    permission"). Part of the calling service's transaction and audit row."""
    return api_keys_revoke_for_users([user.pk], reason=reason)


def api_key_authenticate(raw: str) -> Actor | None:
    """The API's door: the actor a presented key is -- its user through the
    key, with permissions narrowed to the key's scopes; None when the key
    is unknown, revoked, expired or its user may not sign in. Updates
    last_used_at at most once a minute."""
    if not raw or not raw.startswith(KEY_PREFIX) or len(raw) > 200:
        return None
    key = ApiKey.objects.select_related("user").filter(key_hash=hash_key(raw)).first()
    now = timezone.now()
    if key is None or key.revoked_at or (key.expires_at and key.expires_at <= now):
        return None
    user = key.user
    if not user.is_active:
        return None
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        with unless_read_only():  # a read with a key still works on a read-only database
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return Actor.for_api_key(user, key)
