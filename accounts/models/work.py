"""Work and small records: the email outbox, durable batch jobs, rate-limit
counters and saved views."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models.access import MadeThrough
from accounts.models.users import User


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboundEmail(models.Model):
    """The outbox: written in the transaction that causes the email, sent by
    a Celery task after commit, swept periodically if the task is lost."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    to = models.EmailField(max_length=254)
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="emails"
    )
    template = models.CharField(max_length=64)
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    message_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When an attempt timed out waiting for the server's reply to the whole
    # message: the server may have taken it (core/smtp.py). Such a message
    # is tried once more at most.
    possibly_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["-created_at", "-id"]),
        ]

    def __str__(self):
        return f"{self.template} to {self.to}"


class BatchJob(MadeThrough):
    """A batch action over many users, run inline or as a Celery job; the
    per-item result stays available afterwards."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(max_length=32)
    params = models.JSONField(default=dict, blank=True)
    user_ids = models.JSONField(default=list)
    status = models.CharField(max_length=10, default="pending")
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Durability (accounts.services.jobs): the row is the source of truth and
    # its Celery task only a wake-up call. A runner holds the job while
    # `lease_until` is in the future and renews it with every chunk it
    # commits; a beat sweep wakes jobs whose lease ran out.
    permission = models.CharField(max_length=64, blank=True, default="")
    runner = models.CharField(max_length=64, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["lease_until"],
                name="batchjob_open_lease",
                condition=Q(status__in=["pending", "running"]),
            )
        ]

    @property
    def kind(self) -> str:
        """`import` for an invitation import, `batch` for a batch action."""
        return "import" if self.action == "invite" else "batch"

    @property
    def is_open(self) -> bool:
        return self.status in ("pending", "running")


class RateLimitCounter(models.Model):
    """A rate-limit window counted in the database: `accounts.ratelimit`
    uses it only while the shared cache (Redis) is unreachable, so limits
    keep counting instead of failing open."""

    key = models.CharField(max_length=64)  # a SHA-256 of the limit's key
    window_start = models.BigIntegerField()  # epoch seconds
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratelimit_window_uniq")
        ]

    def __str__(self):
        return f"{self.key[:12]}@{self.window_start}: {self.count}"


class SavedViewPage(models.TextChoices):
    USERS = "users", "Users"
    AUDIT = "audit", "Audit log"


class SavedView(models.Model):
    """A named set of filters and sort of a list (the users list, the audit
    log), kept as the list's own query string. It stores no ids: opening it
    runs the query again for whoever opens it, within their reach. Shared
    views are listed to everyone who may read that list."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    page = models.CharField(max_length=10, choices=SavedViewPage.choices)
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000, blank=True)
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "page", "name"], name="saved_view_name_unique_per_owner_page"
            )
        ]
        indexes = [models.Index(fields=["shared", "page"], name="saved_view_shared_idx")]

    def __str__(self):
        return self.name
