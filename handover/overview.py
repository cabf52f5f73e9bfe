"""Figures for the overview page."""

from __future__ import annotations

from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import EmailStatus, Invitation, OutboundEmail, User, UserStatus, status_q
from audit.models import AuditEvent


def overview_context(user) -> dict:
    perms = user.permissions
    ctx: dict = {"cards": []}
    if "users:read" in perms:
        counts = User.objects.aggregate(
            **{s.value: Count("pk", filter=status_q(s.value)) for s in UserStatus}
        )
        ctx["status_counts"] = [(s.value, s.label, counts[s.value]) for s in UserStatus]
        ctx["total_users"] = sum(v for k, v in counts.items() if k != UserStatus.DELETED)
    if "invitations:read" in perms:
        now = timezone.now()
        ctx["pending_invitations"] = Invitation.objects.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
        ).count()
    if "emails:read" in perms:
        ctx["email_counts"] = OutboundEmail.objects.aggregate(
            pending=Count("pk", filter=Q(status=EmailStatus.PENDING)),
            failed=Count("pk", filter=Q(status=EmailStatus.FAILED)),
        )
    if "audit:read" in perms:
        ctx["recent_events"] = list(AuditEvent.objects.order_by("-id")[:8])
    return ctx
