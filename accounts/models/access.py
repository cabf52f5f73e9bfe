"""What lets someone in or acts for them later: invitations, one-time
tokens (and the credential they were made through), sessions, known
devices and API keys."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models.users import User

INVITATION_STATUSES = ("pending", "expired", "accepted", "revoked")


def invitation_status_q(status: str, now=None) -> Q:
    """The database form of `Invitation.status`: accepted wins over revoked,
    an open invitation is pending until it expires. Unknown: matches none."""
    now = now or timezone.now()
    open_ = Q(accepted_at__isnull=True, revoked_at__isnull=True)
    return {
        "pending": open_ & Q(expires_at__gt=now),
        "expired": open_ & Q(expires_at__lte=now),
        "accepted": Q(accepted_at__isnull=False),
        "revoked": Q(accepted_at__isnull=True, revoked_at__isnull=False),
        "open": open_,
    }.get(status, Q(pk__in=[]))


class InvitationQuerySet(models.QuerySet):
    def with_status(self, status: str, now=None) -> InvitationQuerySet:
        """`pending`, `expired`, `accepted`, `revoked`, or `open` (neither
        accepted nor revoked, expired or not)."""
        return self.filter(invitation_status_q(status, now))


class Invitation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=150, blank=True)
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="invitations", null=True, blank=True
    )
    # Direct permissions to grant on acceptance (from a template or a list).
    permissions = models.JSONField(default=list, blank=True)
    # The organization accepting joins, holding the invitation's roles there
    # (None: the roles are global).
    organization = models.ForeignKey(
        "rbac.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invitations",
    )
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["email"]), models.Index(fields=["-created_at", "-id"])]

    def __str__(self):
        return f"Invitation for {self.email}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class MadeThrough(models.Model):
    """A grant someone made to be used later (an administrator's reset or
    sign-in link, a background job) records the credential it was made
    through, so that at use it dies with that credential (design.md,
    "deferred grants are re-checked when used"): its kind
    (`rbac.credentials`: session, api_key, console), the session key or the
    API key. `rbac.policies.grants` reads it."""

    created_via = models.CharField(max_length=16, blank=True, default="")
    created_via_session = models.CharField(max_length=40, blank=True, default="")
    created_via_key = models.ForeignKey(
        "ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        abstract = True

    def record_credential(self, credential) -> None:
        """Note that this grant is made through `credential`."""
        self.created_via = credential.kind
        self.created_via_session = credential.session_key or ""
        self.created_via_key_id = credential.key_id


class TokenPurpose(models.TextChoices):
    PASSWORD_RESET = "password_reset", "Password reset"
    MAGIC_LINK = "magic_link", "Sign-in link"
    EMAIL_VERIFY = "email_verify", "Email verification"
    # "This wasn't me", in the notice of a sign-in from a new device.
    SIGN_IN_REPORT = "sign_in_report", "Sign-in report"


class OneTimeToken(MadeThrough):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    purpose = models.CharField(max_length=20, choices=TokenPurpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose"])]


class UserSession(models.Model):
    """One signed-in browser session. The Django session row holds the data;
    this row holds what people need to recognise and end it."""

    session_key = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # When the password (and code) were last entered in this session.
    reauthenticated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["user", "ended_at"])]


class KnownDevice(models.Model):
    """A browser `user` signed in from before, known by the SHA-256 of a
    random device cookie (accounts.services.devices): a sign-in from a
    browser without a known cookie is a new device, and the user is told."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="known_devices")
    cookie_hash = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=500, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "cookie_hash"], name="accounts_knowndevice_unique"
            )
        ]


class ApiKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The key this one was made through (an API request); revoking a key
    # revokes the keys it made, and theirs.
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    # Why it stopped working: "revoked" by someone, or what ended its user's
    # access ("banned", "deleted", "disabled", "no management permission").
    revoked_reason = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"
