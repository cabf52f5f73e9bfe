"""Erasure: a deleted user's personal data removed from the events about
them (right to erasure), each rewritten row attested in one event."""

from __future__ import annotations

import json
import uuid

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q

from accounts.models import User
from audit.models import AuditEvent, Target
from audit.services.chain import _is_keyed, rekeyed_since
from audit.services.hashing import SCRUBBED_ACTION, _bypass, compute_hash, lock_chain
from audit.services.record import record
from core.services import service
from rbac import policies

# --- erasure ------------------------------------------------------------------

SCRUBBED = "[scrubbed]"
_PERSONAL_FIELDS = ("email", "name", "phone", "metadata")


def _scrub_value(value, secrets_: set[str]):
    if isinstance(value, str):
        # Free text inside changes (a ban reason naming the address) too.
        return SCRUBBED if value and value in secrets_ else _scrub_text(value, secrets_)
    if isinstance(value, dict):
        return {k: _scrub_value(v, secrets_) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v, secrets_) for v in value]
    return value


def _scrubbed_changes(changes: dict, personal: set[str], about_user: bool) -> dict:
    out = {}
    for key, value in (changes or {}).items():
        if about_user and key in _PERSONAL_FIELDS:
            out[key] = SCRUBBED
        else:
            out[key] = _scrub_value(value, personal)
    return out


NOT_DELETED = "Only a deleted user's personal data can be scrubbed; delete the user first."


@service
def audit_scrub_user(*, actor, user_id) -> AuditEvent | None:
    """Erase a deleted user's personal data from the events about them or by
    them, on request (right to erasure), keeping the events themselves.

    Design: events are append-only and hash-chained, so erasure is a second
    dedicated path like retention. Under a transaction-local flag the
    PostgreSQL trigger lets it rewrite only the personal columns (labels,
    IP, user agent, reason, changes) -- never id, time, action, ids, outcome
    or the `hash`/`prev_hash` link columns. Each rewritten row's new content
    hash is attested, row by row, in one `audit.user.scrubbed` event appended
    to the chain (itself free of personal data), so `verify_chain` still
    checks every link and every byte: a rewritten row must hash to what the
    scrub event recorded. Labels become "deleted user <id prefix>"; emails,
    names and phone numbers inside changes become "[scrubbed]"; the user's
    own IP address and user agent are cleared.

    Guard: `check_can_scrub_audit` (users:delete and, while the account
    row exists, the hierarchy over the user as if they were active), and
    the user must already be deleted (soft or hard): asked after the guard,
    a live user is invalid input (ValidationError `not_deleted`), not a
    refusal. Returns the scrub event,
    or None when there was nothing left to scrub."""

    action = SCRUBBED_ACTION
    user_key = str(user_id)
    target = Target(type="user", id=user_key[:64], label=f"user {user_key[:8]}")
    policies.check_permission(actor, "users:delete", action=action, target=target)
    # Lock, then guard, then validate: the row as it is now, and a refusal
    # before anything says whether (or in which state) the user exists.
    user = None
    if _is_uuid(user_key):
        user = User.objects.select_for_update().filter(pk=user_key).first()
    policies.check_can_scrub_audit(actor, user, target=target)
    if not _is_uuid(user_key) or (user is not None and user.deleted_at is None):
        raise ValidationError(NOT_DELETED, code="not_deleted")
    return scrub_user_events(actor=actor, user_key=user_key, user=user)


def scrub_user_events(*, actor, user_key: str, user) -> AuditEvent | None:
    """The rewriting `audit_scrub_user` does once its guard has passed, for
    a service that guards it itself (the purge of users whose restore window
    ended, `accounts.services.purge`): `user` is the locked, deleted row
    (or None once it is gone). Inside the caller's transaction."""
    action = SCRUBBED_ACTION
    lock_chain()  # no sealing meanwhile: an event is rewritten sealed, or sealed rewritten
    pseudonym = f"deleted user {user_key[:8]}"
    uid = uuid.UUID(user_key)
    rows = AuditEvent.objects.filter(models_q_about(uid)).order_by("id")
    personal: set[str] = set()
    if user is not None:
        personal.update(v for v in (user.email, user.name, user.phone) if v)
    for actor_id, actor_label, target_id, target_label in rows.values_list(
        "actor_id", "actor_label", "target_id", "target_label"
    ).iterator(chunk_size=1000):
        if actor_id == uid and actor_label:
            personal.add(actor_label)
        if target_id == user_key and target_label:
            personal.add(target_label)
    personal.discard(pseudonym)
    boundary = rekeyed_since()
    attested: dict[str, str] = {}
    touched = 0
    table = AuditEvent._meta.db_table
    with _bypass("audit_scrub"), connection.cursor() as cursor:
        for event in rows.exclude(action=SCRUBBED_ACTION).iterator(chunk_size=1000):
            by_user = event.actor_id == uid
            about_user = event.target_id == user_key
            new = {
                "actor_label": pseudonym if by_user else event.actor_label,
                "target_label": pseudonym if about_user else event.target_label,
                "ip": None if by_user else event.ip,
                "user_agent": "" if by_user else event.user_agent,
                "reason": _scrub_text(event.reason, personal),
                "changes": _scrubbed_changes(event.changes, personal, about_user),
            }
            if all(getattr(event, k) == v for k, v in new.items()):
                continue
            for key, value in new.items():
                setattr(event, key, value)
            cursor.execute(
                f"UPDATE {table} SET actor_label = %s, target_label = %s, ip = %s, "  # noqa: S608
                "user_agent = %s, reason = %s, changes = %s WHERE id = %s",
                [
                    event.actor_label,
                    event.target_label,
                    event.ip,
                    event.user_agent,
                    event.reason,
                    json.dumps(event.changes),
                    event.id,
                ],
            )
            touched += 1
            if event.seq is not None:  # an unsealed row is sealed as it now reads
                attested[str(event.id)] = compute_hash(
                    event, event.prev_hash, keyed=_is_keyed(event.seq, boundary)
                )
    if not touched:
        return None
    return record(
        action,
        actor=actor,
        target=Target(type="user", id=user_key, label=pseudonym),
        reason="Personal data erased on request.",
        changes={"scrubbed": touched, "rows": attested},
    )


def _scrub_text(text: str, personal: set[str]) -> str:
    for value in sorted(personal, key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, SCRUBBED)
    return text


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def models_q_about(user_id):
    """Events by or about a user."""

    return Q(actor_id=user_id) | Q(target_id=str(user_id))
