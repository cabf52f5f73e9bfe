"""Webhook endpoints and their deliveries (Standard Webhooks).

A delivery is a row like an outbox email: written in the transaction of
the audit event it carries, sent by a Celery task after commit, its
`webhook_id` fixed when written so every attempt (and a replay's receiver)
can de-duplicate it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True)
    # Empty list: every event type in the catalogue.
    event_types = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    # `whsec_` + base64 of 32 random bytes; `previous_secret` keeps signing
    # until `previous_secret_expires_at` (a rotation).
    secret = models.CharField(max_length=200)
    previous_secret = models.CharField(max_length=200, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Deliveries failed for good in a row; at WEBHOOKS_DISABLE_AFTER the
    # endpoint is disabled and its owner told.
    failure_streak = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def signing_secrets(self, now=None) -> list[str]:
        now = now or timezone.now()
        secrets = [self.secret]
        if self.previous_secret and (
            self.previous_secret_expires_at is None or self.previous_secret_expires_at > now
        ):
            secrets.append(self.previous_secret)
        return secrets


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=100)
    # The signed body, exactly as sent (the `{type, timestamp, data, ...}` JSON).
    payload = models.TextField()
    webhook_id = models.CharField(max_length=64, unique=True)
    audit_event_id = models.BigIntegerField(null=True, blank=True)
    audit_hash = models.CharField(max_length=64, blank=True)
    # Per endpoint, 1, 2, 3, ... in the order the audit chain sealed the
    # events: the highest so far plus one, given by the (single) sealer
    # (webhooks.services.deliveries), so no counter row is locked. NULL
    # until the event is sealed; such a delivery is not sent.
    sequence = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_endpoint_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due_idx"),
            # The deliveries waiting for their event's seal.
            models.Index(
                fields=["audit_event_id"],
                name="webhook_delivery_unsealed_idx",
                condition=models.Q(sequence__isnull=True),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "sequence"], name="webhook_delivery_one_sequence"
            )
        ]

    def __str__(self):
        return f"{self.event_type} #{self.sequence} to {self.endpoint_id}"
