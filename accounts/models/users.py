"""The user: addresses normalised for lookup, status as a query, and the
model itself."""

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


def email_letters(text: str) -> str:
    """`text` with the letters addresses are stored in: NFKC (a full-width
    `ｅ` is an `e`), lower-cased. What `normalize_email` does to a whole
    address before its domain, and what a search does to the text it
    looks for in addresses (`accounts.selectors.listing.search_q`)."""
    return unicodedata.normalize("NFKC", text).lower()


def normalize_email(email: str) -> str:
    """The form an address is compared and stored in, so that one mailbox is
    one account whatever way it was typed: NFKC (a full-width `ｅ` is an
    `e`), stripped, lower-cased, and the domain IDNA-encoded (UTS 46, then
    IDNA 2008: `bücher.example` is stored as `xn--bcher-kva.example`, the
    form mail servers use). A domain that cannot be encoded is left as
    typed; `validate_email_address` refuses it."""
    email = email_letters(email or "").strip()
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
            # The deleted users' ids alone (a few of them): an organization's
            # members not deleted are counted from its memberships without
            # reading a user row (`accounts.selectors.counting`).
            models.Index(
                fields=["id"],
                condition=Q(deleted_at__isnull=False),
                name="accounts_user_deleted_ids",
            ),
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
