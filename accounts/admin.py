"""Django admin for operators. Every change goes through the services, so
admin obeys the same guards (permission, hierarchy, self-action, owner and
last-manager protection) and writes the same audit events as the dashboard."""

from __future__ import annotations

from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.admin_actions import user_actions
from accounts.forms import UserAdminForm
from accounts.models import ApiKey, Invitation, OutboundEmail, User, UserSession
from accounts.services import emails as emails_services
from accounts.services import invitations as invitations_services
from accounts.services import sessions as sessions_services
from accounts.services import users as user_services
from rbac import policies
from rbac.admin_base import ReadOnlyMixin, ServiceModelAdmin, service_action


@admin.register(User)
class UserAdmin(ServiceModelAdmin):
    form = UserAdminForm
    service_arg = "user"
    list_display = ("email", "name", "status_display", "is_owner", "created_at", "last_login")
    list_select_related = ()  # no foreign keys; roles are not shown in the list
    search_fields = ("^email",)
    search_help_text = "Search by the beginning of the email address."
    ordering = ("-created_at", "-id")
    readonly_fields = (
        "id",
        "status_display",
        "is_owner",
        "created_at",
        "last_login",
        "email_verified_at",
        "disabled_at",
        "banned_until",
        "ban_reason",
        "deleted_at",
    )
    # Every declared action on users (ban asks for its duration and reason
    # on an intermediate page, as the user page does), and ending sessions.
    actions = [
        *user_actions(),
        service_action(
            sessions_services.sessions_revoke_all,
            description="End all sessions of selected users",
            verb="Sessions ended",
            permission="sessions:revoke",
        ),
    ]

    @admin.display(description="Status")
    def status_display(self, obj):
        return obj.get_status_display()

    def may_change(self, request, obj) -> bool:
        return policies.allows(policies.check_can_update_profile, request.actor, obj)

    def may_delete(self, request, obj) -> bool:
        return policies.allows(policies.check_can_delete, request.actor, obj)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("email", "name")
        return ("id", "email", "name", "phone", "metadata", *self.readonly_fields[1:])

    def get_deleted_objects(self, objs, request):
        # A delete here is the soft delete of the users service: nothing
        # else is removed, so there is no cascade to list or to check.
        return [str(o) for o in objs], {}, set(), []

    def service_save(self, request, obj, form, change):
        if not change:
            user = user_services.user_create(
                actor=request.actor,
                email=form.cleaned_data["email"],
                name=form.cleaned_data.get("name", ""),
            )
            obj.pk = user.pk
            return
        changed = {k: form.cleaned_data[k] for k in form.changed_data}
        if changed:
            user_services.user_update(
                actor=request.actor, user=User.objects.get(pk=obj.pk), **changed
            )

    def save_related(self, request, form, formsets, change):
        return None  # no inlines or M2M fields on this form

    def service_delete(self, request, obj):
        user_services.user_delete(
            actor=request.actor, user=obj, reason="Deleted from Django admin."
        )


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyMixin, ServiceModelAdmin):
    service_arg = "invitation"
    list_display = ("email", "status", "invited_by", "created_at", "expires_at", "accepted_at")
    list_select_related = ("invited_by", "user")
    search_fields = ("^email",)
    ordering = ("-created_at",)
    exclude = ("token_hash",)
    actions = [
        service_action(
            invitations_services.invitation_resend,
            description="Resend selected invitations",
            verb="Resent",
            permission="invitations:create",
        ),
    ]


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyMixin, ServiceModelAdmin):
    list_display = ("name", "prefix", "user", "status", "created_at", "last_used_at", "expires_at")
    list_select_related = ("user", "created_by")
    search_fields = ("^prefix", "^name")
    ordering = ("-created_at",)
    # Never the key hash: only what identifies a key to people.
    fields = (
        "name",
        "prefix",
        "user",
        "scopes",
        "created_by",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyMixin, ServiceModelAdmin):
    service_arg = "email"
    list_display = ("to", "template", "status", "attempts", "created_at", "sent_at")
    list_select_related = ("user",)
    list_filter = ("status",)
    search_fields = ("^to",)
    ordering = ("-created_at",)
    # The body can hold a live sign-in or reset link: not shown here.
    fields = (
        "to",
        "user",
        "template",
        "subject",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "next_attempt_at",
        "sent_at",
        "message_id",
    )
    actions = [
        service_action(
            emails_services.email_retry,
            description="Retry selected emails",
            verb="Queued again",
            permission="emails:retry",
        ),
    ]


@admin.register(UserSession)
class UserSessionAdmin(ReadOnlyMixin, ServiceModelAdmin):
    service_arg = "session"

    @staticmethod
    def service_args(session) -> dict:
        # The service locks the user and asks the guard before it looks
        # the session up.
        return {"user": session.user_id, "session_id": session.pk}

    list_display = ("user", "ip", "user_agent", "created_at", "last_seen_at", "ended_at")
    list_select_related = ("user",)
    search_fields = ("^user__email",)
    ordering = ("-last_seen_at",)
    exclude = ("session_key",)
    actions = [
        service_action(
            sessions_services.session_revoke,
            description="End selected sessions",
            verb="Ended",
            permission="sessions:revoke",
        ),
    ]


# django-otp registers its device models with an admin that shows each TOTP
# secret as a QR code (and answers an unknown id with a 500), and
# django-otp-webauthn its passkeys with one that deletes or disables them
# unaudited. Operators manage factors through the dashboard's guarded
# "remove factor" action instead.
def _unregister_otp_device_admins() -> None:

    for model in (TOTPDevice, StaticDevice, WebAuthnCredential):
        if admin.site.is_registered(model):
            admin.site.unregister(model)


_unregister_otp_device_admins()
