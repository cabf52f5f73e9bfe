from django.conf import settings
from django.db import models
from django.utils import timezone


class Role(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    permissions = models.JSONField(default=list, blank=True)
    is_builtin = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="UserRole",
        through_fields=("role", "user"),
        related_name="roles",
        blank=True,
    )
    # Roles an invitation grants on acceptance. Declared here (not on
    # Invitation) so that deleting a role drops it from pending invitations.
    invitations = models.ManyToManyField("accounts.Invitation", related_name="roles", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Organization(models.Model):
    """A tenant (seed 004): its members are users, each of whom may belong
    to any number of organizations, or to none."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="organizations", blank=True
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A user in an organization. The roles they hold there are the
    `UserRole` rows scoped to the organization; removing the membership
    removes them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    joined_at = models.DateTimeField(default=timezone.now)
    # A copy of the member's `User.created_at` (set once, never changed),
    # filled by `save()`: with `rbac_membership_newest` an organization
    # administrator's users list, newest first, reads its page from 51
    # index entries instead of sorting every member (issues 24, 29;
    # `accounts.selectors.listing`).
    user_created_at = models.DateTimeField(editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="rbac_membership_unique")
        ]
        indexes = [
            models.Index(fields=["organization", "user"]),
            models.Index(
                fields=["organization", "-user_created_at", "-user"],
                name="rbac_membership_newest",
            ),
        ]

    def save(self, *args, **kwargs):
        if self.user_created_at is None:
            self.user_created_at = self.user.created_at
        super().save(*args, **kwargs)


class UserRole(models.Model):
    """A role held globally (`organization` None) or inside one
    organization, where it confers only the organization-scopable part of
    its permissions (`rbac.permissions.SCOPABLE`)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.ForeignKey(Role, on_delete=models.CASCADE)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="user_roles"
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        constraints = [
            # One global assignment of a role, and one per organization.
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=models.Q(organization__isnull=True),
                name="rbac_userrole_unique",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "organization"],
                condition=models.Q(organization__isnull=False),
                name="rbac_userrole_unique_in_org",
            ),
        ]
        indexes = [models.Index(fields=["role", "user"])]
