"""Django admin for operators: OTP-verified sessions only, changes through
the guarded services, read-only audit log, bounded change lists."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import ApiKey, User
from audit import services as audit
from audit.models import AuditEvent
from rbac.models import Role, UserRole
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    """`admin_client(user)`: signed in with an OTP-verified session."""

    def sign_in(user):
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        client.force_login(user, backend="accounts.backends.EmailBackend")
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return client

    return sign_in


@pytest.fixture
def operator(owner):
    from rbac.permissions import TEMPLATES

    role = Role.objects.create(
        slug="ops", name="Ops", permissions=sorted(TEMPLATES["operator"]["permissions"])
    )
    user = make_user("operator@example.com", name="Otto Operator")
    UserRole.objects.create(user=user, role=role)
    return user


def _changelist(model="user", app="accounts"):
    return reverse(f"admin:{app}_{model}_changelist")


def test_admin_requires_an_otp_verified_session(client_for, admin_user, settings):
    # With the MFA policy off, only the OTP admin site stands in the way.
    settings.MFA_POLICY = "none"
    response = client_for(admin_user, verified=False).get(_changelist())
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_verified_operator_sees_the_user_change_list(admin_client, operator, member):
    response = admin_client(operator).get(_changelist())
    assert response.status_code == 200
    assert member.email in response.content.decode()


def test_operator_without_users_delete_cannot_delete(admin_client, operator, member):
    client = admin_client(operator)
    url = reverse("admin:accounts_user_delete", args=[member.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    changelist = client.get(_changelist())
    actions = dict(changelist.context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert "user_delete_action" not in actions
    member.refresh_from_db()
    assert member.deleted_at is None


def test_the_default_bulk_delete_is_replaced_by_the_guarded_service(admin_client, admin_user):
    changelist = admin_client(admin_user).get(_changelist())
    actions = dict(changelist.context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert "user_delete_action" in actions


def test_adding_a_user_goes_through_the_service_and_is_audited(admin_client, admin_user):
    response = admin_client(admin_user).post(
        reverse("admin:accounts_user_add"), {"email": "Fresh@Example.com", "name": "Fresh"}
    )
    assert response.status_code == 302
    user = User.objects.get(email="fresh@example.com")
    event = AuditEvent.objects.get(action="accounts.user.created")
    assert event.actor_id == admin_user.pk and event.target_id == str(user.pk)


def test_a_refused_change_shows_the_guards_words_not_a_500(admin_client, operator):
    # The operator lacks users:create: Django admin maps add to it.
    response = admin_client(operator).post(
        reverse("admin:accounts_user_add"), {"email": "x@example.com"}
    )
    assert response.status_code == 403
    assert not User.objects.filter(email="x@example.com").exists()


@pytest.mark.parametrize(
    ("action", "service", "event_action"),
    [
        ("user_ban_action", "accounts.services.users.user_ban", "accounts.user.banned"),
        ("user_disable_action", "accounts.services.users.user_disable", "accounts.user.disabled"),
        ("user_delete_action", "accounts.services.users.user_delete", "accounts.user.deleted"),
    ],
)
def test_admin_actions_call_the_services_and_write_audit_events(
    admin_client, admin_user, member, action, service, event_action
):
    # Each action with parameters asks for them on an intermediate page
    # first (nothing happens yet), then runs with them.
    client = admin_client(admin_user)
    selected = {"action": action, "_selected_action": [str(member.pk)]}
    response = client.post(_changelist(), selected)
    assert response.status_code == 200 and 'name="apply"' in response.content.decode()
    assert not AuditEvent.objects.filter(action=event_action, target_id=str(member.pk)).exists()
    response = client.post(
        _changelist(),
        {**selected, "apply": "yes", "duration": "permanent", "reason": "from admin"},
        follow=True,
    )
    assert response.status_code == 200
    assert AuditEvent.objects.filter(
        action=event_action, actor_id=admin_user.pk, target_id=str(member.pk)
    ).exists()


def test_an_admin_action_refused_by_a_guard_is_reported_and_audited(
    admin_client, admin_user, owner
):
    response = admin_client(admin_user).post(
        _changelist(),
        {
            "action": "user_ban_action",
            "_selected_action": [str(owner.pk)],
            "apply": "yes",
            "duration": "permanent",
        },
        follow=True,
    )
    text = " ".join(str(m) for m in response.context["messages"])
    assert "The owner cannot be banned." in text
    assert AuditEvent.objects.filter(outcome="denied", target_id=str(owner.pk)).exists()


def test_an_admin_action_bound_to_a_missing_service_fails_at_startup():
    from rbac.admin_base import service_action

    with pytest.raises(AttributeError):
        service_action(
            "accounts.services.users.user_vanish",
            description="x",
            verb="x",
            permission="users:ban",
        )


def test_user_change_list_query_count_is_bounded(
    admin_client, admin_user, django_assert_max_num_queries
):
    for i in range(60):
        make_user(f"bulk{i}@example.com")
    client = admin_client(admin_user)
    with django_assert_max_num_queries(16) as captured:
        response = client.get(_changelist(), {"q": "bulk"})
    assert response.status_code == 200
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    # Only capped counts (over a LIMITed subquery), never the whole table.
    assert all("LIMIT" in sql.upper() for sql in counts)


def test_audit_events_are_read_only_in_admin(
    admin_client, admin_user, django_assert_max_num_queries
):
    event = audit.record("tests.admin", reason="look, don't touch")
    AuditEvent.objects.bulk_create([AuditEvent(action="tests.bulk") for _ in range(150)])
    client = admin_client(admin_user)
    # 15: the first request records its session, and the MFA policy asks for the
    # account's factors on every request of a session without a code (issue 23).
    with django_assert_max_num_queries(15):
        assert client.get(_changelist("auditevent", "audit")).status_code == 200
    change = client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))
    assert change.status_code == 200 and "look, don&#x27;t touch" in change.content.decode()
    assert b'name="_save"' not in change.content
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    delete = reverse("admin:audit_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    changelist = client.get(_changelist("auditevent", "audit"))
    assert changelist.context["action_form"] is None or "delete_selected" not in dict(
        changelist.context["action_form"].fields["action"].choices
    )
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_api_keys_never_show_the_key_hash(admin_client, admin_user):
    key = ApiKey.objects.create(
        user=admin_user, name="CI", prefix="hv_abc", key_hash="f" * 64, scopes=["users:read"]
    )
    client = admin_client(admin_user)
    for url in (
        _changelist("apikey"),
        reverse("admin:accounts_apikey_change", args=[key.pk]),
    ):
        body = client.get(url).content.decode()
        assert "hv_abc" in body and "f" * 64 not in body


def test_totp_secrets_are_not_exposed_in_admin():
    from django.contrib import admin as django_admin
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert not django_admin.site.is_registered(TOTPDevice)
    assert not django_admin.site.is_registered(StaticDevice)


def test_the_admin_looks_like_the_product_and_links_back_to_the_dashboard(admin_client, admin_user):
    body = admin_client(admin_user).get(reverse("admin:index")).content.decode()
    assert "css/admin.css" in body
    assert '<span class="logo-text">Handover</span>' in body
    assert "Back to the dashboard" in body and f'href="{reverse("overview")}"' in body
    assert ">API keys<" in body and "Api keys" not in body


def test_favicon_ico_is_not_a_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith(".svg")


def test_the_change_page_offers_save_and_delete_only_where_the_guards_allow(
    admin_client, admin_user, member
):
    """Admin asks the services' guards before it offers Save and Delete, as
    the dashboard does: a peer admin's page is read-only. A crafted POST
    still reaches the service, whose guard refuses it and audits it."""
    peer = make_user("peer@example.com", roles=["admin"], name="Pat Peer")
    client = admin_client(admin_user)

    def page(user):
        url = reverse("admin:accounts_user_change", args=[user.pk])
        return client.get(url).content.decode()

    own = page(member)
    assert 'name="_save"' in own and 'name="name"' in own
    assert reverse("admin:accounts_user_delete", args=[member.pk]) in own
    theirs = page(peer)
    assert 'name="_save"' not in theirs and 'name="name"' not in theirs
    assert reverse("admin:accounts_user_delete", args=[peer.pk]) not in theirs
    assert "Pat Peer" in theirs
    response = client.post(
        reverse("admin:accounts_user_change", args=[peer.pk]),
        {"email": peer.email, "name": "Renamed", "phone": "", "metadata": "{}"},
        follow=True,
    )
    assert response.status_code in (200, 403)
    peer.refresh_from_db()
    assert peer.name == "Pat Peer"
    assert AuditEvent.objects.filter(outcome="denied", target_id=str(peer.pk)).exists()
