from django.contrib.auth.backends import ModelBackend

from accounts.models import normalize_email


class EmailBackend(ModelBackend):
    """Email + password. Runs the hasher for unknown emails too (inherited),
    so timing does not reveal which addresses have accounts. Users who may
    not sign in (banned, disabled, deleted, invited) are refused."""

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        return super().authenticate(
            request, username=normalize_email(email or username), password=password, **kwargs
        )

    def user_can_authenticate(self, user):
        return user.is_active

    def get_user_permissions(self, user_obj, obj=None):
        return set()

    def get_group_permissions(self, user_obj, obj=None):
        return set()

    def has_perm(self, user_obj, perm, obj=None):
        return False

    def has_module_perms(self, user_obj, app_label):
        return False
