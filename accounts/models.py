"""Accounts: users, invitations, one-time tokens, sessions, API keys, the
email outbox and batch jobs.

Only `accounts.services` mutates these models; reads go through
`accounts.selectors`.
"""

from __future__ import annotations

import unicodedata
import uuid

import idna
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rbac.permissions import MANAGEMENT_PERMISSIONS


def normalize_email(email: str) -> str:
    """The form an address is compared and stored in, so that one mailbox is
    one account whatever way it was typed: NFKC (a full-width `ｅ` is an
    `e`), stripped, lower-cased, and the domain IDNA-encoded (UTS 46, then
    IDNA 2008: `bücher.example` is stored as `xn--bcher-kva.example`, the
    form mail servers use). A domain that cannot be encoded is left as
    typed; `validate_email_address` refuses it."""
    email = unicodedata.normalize("NFKC", email or "").strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or domain.isascii():
        return email
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return email
    return f"{local}@{domain}"


def email_for_people(email: str) -> str:
    """An address as people read it: its domain as typed and, where that
    differs, the encoded form beside it (`ann@bücher.example
    (xn--bcher-kva.example)`), so look-alikes show what they are."""
    local, at, domain = (email or "").rpartition("@")
    if not at or "xn--" not in domain:
        return email or ""
    try:
        typed = idna.decode(domain)
    except (idna.IDNAError, UnicodeError, ValueError):
        return email
    return f"{local}@{typed} ({domain})" if typed != domain else email


class UserStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INVITED = "invited", "Invited"
    UNVERIFIED = "unverified", "Unverified"
    DISABLED = "disabled", "Disabled"
    BANNED = "banned", "Banned"
    DELETED = "deleted", "Deleted"


class UserQuerySet(models.QuerySet):
    def with_status(self, status: str) -> UserQuerySet:
        return self.filter(status_q(status))

    def not_deleted(self) -> UserQuerySet:
        return self.filter(deleted_at__isnull=True)


def status_q(status: str, now=None) -> Q:
    """The database form of `User.status`, in the same precedence order."""
    now = now or timezone.now()
    deleted = Q(deleted_at__isnull=False)
    banned = Q(banned_until__gt=now)
    disabled = Q(disabled_at__isnull=False)
    unverified = Q(email_verified_at__isnull=True)
    if status == UserStatus.DELETED:
        return deleted
    if status == UserStatus.BANNED:
        return ~deleted & banned
    if status == UserStatus.DISABLED:
        return ~deleted & ~banned & disabled
    if status == UserStatus.INVITED:
        return ~deleted & ~banned & ~disabled & Q(password__startswith="!")
    if status == UserStatus.UNVERIFIED:
        return ~deleted & ~banned & ~disabled & ~Q(password__startswith="!") & unverified
    if status == UserStatus.ACTIVE:
        return ~deleted & ~banned & ~disabled & ~Q(password__startswith="!") & ~unverified
    raise ValueError(f"unknown status {status!r}")


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email=normalize_email(email))

    def create_user(self, email, password=None, **extra):
        """Low-level constructor for fixtures and migrations. Product code
        creates users through `accounts.services.user_create`."""
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)  # None makes the password unusable
        user.save(using=self._db)
        return user


def _authorization():
    """The backend in AUTHENTICATION_BACKENDS that answers catalog
    permissions (`rbac.backends.RBACBackend`); none configured is a
    configuration error, never "allowed"."""
    for backend in auth.get_backends():
        if hasattr(backend, "catalog_permissions"):
            return backend
    raise ImproperlyConfigured("No authorization backend answers catalog permissions.")


class User(AbstractBaseUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", max_length=254, unique=True)
    name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    is_owner = models.BooleanField(default=False)
    must_change_password = models.BooleanField(default=False)
    # Permissions granted directly, besides those of the user's roles.
    direct_permissions = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    banned_until = models.DateTimeField(null=True, blank=True)
    ban_reason = models.CharField(max_length=500, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The user asked to delete their own account: it is deleted at this
    # time unless they cancel first (accounts.services.self_deletion).
    deletion_due_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_owner"], condition=Q(is_owner=True), name="accounts_user_single_owner"
            ),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="accounts_user_created_idx"),
            models.Index(fields=["last_login", "id"], name="accounts_user_lastlogin_idx"),
            models.Index(fields=["name", "id"], name="accounts_user_name_idx"),
            models.Index(fields=["deleted_at"], name="accounts_user_deleted_idx"),
        ]

    def __str__(self):
        return self.email

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def status(self) -> str:
        now = timezone.now()
        if self.deleted_at:
            return UserStatus.DELETED
        if self.banned_until and self.banned_until > now:
            return UserStatus.BANNED
        if self.disabled_at:
            return UserStatus.DISABLED
        if not self.has_usable_password():
            return UserStatus.INVITED
        if not self.email_verified_at:
            return UserStatus.UNVERIFIED
        return UserStatus.ACTIVE

    def get_status_display(self) -> str:
        return UserStatus(self.status).label

    @property
    def is_banned_permanently(self) -> bool:
        return bool(self.banned_until and self.banned_until.year >= timezone.now().year + 50)

    @property
    def is_active(self) -> bool:
        """Whether this account may sign in and keep a session."""
        status = self.status
        if status == UserStatus.ACTIVE:
            return True
        return status == UserStatus.UNVERIFIED and settings.ALLOW_UNVERIFIED_LOGIN

    # --- permissions, answered by RBAC ------------------------------------
    # Through the authorization backend settings name (as Django's own
    # PermissionsMixin asks its backends), so the model imports none of
    # rbac's reads: models sit below them.

    @property
    def permissions(self) -> frozenset[str]:
        return _authorization().catalog_permissions(self)

    def has_perm(self, perm, obj=None) -> bool:
        return _authorization().has_perm(self, perm, obj)

    def has_perms(self, perm_list, obj=None) -> bool:
        return all(self.has_perm(p, obj) for p in perm_list)

    def has_module_perms(self, app_label) -> bool:
        return _authorization().has_module_perms(self, app_label)

    @property
    def is_staff(self) -> bool:
        """Django admin is open to anyone holding a management permission."""

        return self.is_active and bool(self.permissions & MANAGEMENT_PERMISSIONS)

    @property
    def is_superuser(self) -> bool:
        return self.is_owner


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
