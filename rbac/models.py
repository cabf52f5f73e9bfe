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


class UserRole(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.ForeignKey(Role, on_delete=models.CASCADE)
    assigned_at = models.DateTimeField(default=timezone.now)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="rbac_userrole_unique")
        ]
        indexes = [models.Index(fields=["role", "user"])]
