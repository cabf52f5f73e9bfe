"""The append-only audit log.

Rows are only ever inserted, by `audit.services.record`. The ORM refuses
updates and deletes; on PostgreSQL a trigger refuses them too, except inside
the dedicated paths that set a transaction-local flag the trigger checks:
retention (`audit.services.prune_before`), erasure (`audit_scrub_user`) and
the sealer (`audit.services.seal`), which may only fill in an unsealed
row's chain columns (`seq`, `prev_hash`, `hash`), once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    pass


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    DENIED = "denied", "Denied"
    FAILED = "failed", "Failed"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Audit events cannot be deleted; use audit_prune for retention.")

    def bulk_update(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be updated.")


class AuditEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The actor is kept by id and label, not by foreign key: the row must
    # survive the actor's deletion unchanged.
    actor_id = models.UUIDField(null=True, blank=True)
    actor_label = models.CharField(max_length=300, blank=True)
    # Impersonation (issue 26): the person the actor was viewing the
    # dashboard as. The actor is always the one who really acted.
    acting_for_id = models.UUIDField(null=True, blank=True)
    acting_for_label = models.CharField(max_length=300, blank=True)
    # The organization the event happened in (issue 24): set for what is
    # done inside one (its members, the roles held there, its invitations,
    # the organization itself); None for what concerns a whole account or
    # the installation. Kept by id, not by foreign key, like the actor: the
    # row outlives the organization. Hashed into the chain when set.
    organization_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    batch_id = models.UUIDField(null=True, blank=True)
    reason = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    changes = models.JSONField(default=dict, blank=True)
    # The chain (audit.services.sealer): written empty by the request's
    # transaction, set once by the sealer -- the event's place in the chain
    # (1, 2, 3, ... in sealing order, which is commit order), the previous
    # event's hash and this event's hash. NULL `seq`: not sealed yet.
    seq = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["actor_id", "-id"], name="audit_actor_idx"),
            models.Index(fields=["target_id", "-id"], name="audit_target_idx"),
            models.Index(fields=["action", "-id"], name="audit_action_idx"),
            models.Index(fields=["outcome", "-id"], name="audit_outcome_idx"),
            models.Index(fields=["created_at"], name="audit_created_idx"),
            models.Index(fields=["batch_id"], name="audit_batch_idx"),
            models.Index(fields=["ip", "-id"], name="audit_ip_idx"),
            # Per-day figures on the overview (sign-ins over 30 days).
            models.Index(fields=["action", "created_at"], name="audit_action_time_idx"),
            # The actor filter when the address is no (longer an) account.
            models.Index(fields=["actor_label", "-id"], name="audit_actor_label_idx"),
            # What the sealer has left to do: small, whatever the log's size.
            models.Index(
                fields=["id"], name="audit_unsealed_idx", condition=models.Q(seq__isnull=True)
            ),
            # A scoped auditor's log and the organization filter.
            models.Index(fields=["organization_id", "-id"], name="audit_org_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_label}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted; use audit_prune for retention.")

    @property
    def sealed(self) -> bool:
        return self.seq is not None


@dataclass
class Target:
    """What an audit event is about: a model object's type, id and label,
    or one given by hand (an invitation not yet saved, a batch, a list)."""

    type: str
    id: str
    label: str
    # The organization it lies in, if any (an invitation into one).
    organization_id: int | None = None

    @classmethod
    def of(cls, obj) -> Target | None:
        if obj is None:
            return None
        if isinstance(obj, Target):
            return obj
        label = getattr(obj, "email", None) or getattr(obj, "name", None) or str(obj)
        kind = obj._meta.model_name
        org_id = obj.pk if kind == "organization" else getattr(obj, "organization_id", None)
        return cls(type=kind, id=str(obj.pk), label=str(label), organization_id=org_id)
