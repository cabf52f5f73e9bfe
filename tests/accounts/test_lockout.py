"""A locked-out account on the dashboard: its badge and recent failed
sign-ins on the user page and the list, and Unlock -- one guarded, audited
service (`user_unlock`, guard `check_can_unlock`) reached from the page,
the API and a batch, with the hierarchy applying."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.selectors import user_lock
from accounts.services.api_keys import api_key_create
from accounts.services.batch import batch_run
from audit.models import AuditEvent
from rbac.models import Role, UserRole
from rbac.permissions import TEMPLATES
from tests.conftest import STRONG_PASSWORD, make_user

pytestmark = pytest.mark.django_db

STRANGER = "198.51.100.23"


def lock_out(client, email, *, ip=STRANGER):
    for n in range(django_settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"email": email, "password": f"wrong-{n}"}, REMOTE_ADDR=ip)


def sign_in_works(email, *, ip="192.0.2.40") -> bool:
    from django.test import Client

    browser = Client()
    browser.post("/login/", {"email": email, "password": STRONG_PASSWORD}, REMOTE_ADDR=ip)
    return "_auth_user_id" in browser.session


def make_manager():
    role = Role.objects.create(
        slug="manager", name="Manager", permissions=sorted(TEMPLATES["manager"]["permissions"])
    )
    user = make_user("manager@example.com", name="Maya Manager")
    UserRole.objects.create(user=user, role=role)
    return user


def bearer(user, template="full_access"):
    _key, raw = api_key_create(actor=user, name="tests", template=template)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def locked_member(client, member, no_mfa_policy):
    lock_out(client, member.email)
    assert not sign_in_works(member.email)
    return member


def test_a_locked_user_page_shows_the_lock_its_failures_and_unlock(
    client, client_for, admin_user, locked_member
):
    page = client_for(admin_user).get(f"/users/{locked_member.pk}/").content.decode()
    assert "Locked until" in page
    assert "Recent failed sign-ins" in page
    assert f"from {STRANGER}" in page
    assert f'/users/{locked_member.pk}/unlock/"' in page
    listing = client.get("/users/").content.decode()
    assert "Locked until" in listing


def test_the_list_reads_the_cooloff_of_each_page_not_of_the_first(
    client, client_for, admin_user, member, no_mfa_policy, monkeypatch
):
    """The list's holdings query is compiled once per page size
    (`core.compiled.Reused`): each page still asks about its own time."""
    from axes.models import AccessAttempt
    from django.db.models import F

    from accounts import selectors

    admin = client_for(admin_user)
    lock_out(client, member.email)
    # A page read a day later (its query compiled then): the failures are
    # past the cool-off.
    cooloff_start = selectors.cooloff_start
    monkeypatch.setattr(
        selectors, "cooloff_start", lambda now: cooloff_start(now + timedelta(days=1))
    )
    assert "Locked until" not in admin.get("/users/?size=10").content.decode()
    monkeypatch.undo()
    assert "Locked until" in admin.get("/users/?size=10").content.decode()
    # The failures age past the cool-off: the lock is gone from the next page.
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - django_settings.AXES_COOLOFF_TIME - timedelta(minutes=1)
    )
    assert "Locked until" not in admin.get("/users/?size=10").content.decode()


def test_an_unlocked_user_is_offered_no_unlock(client_for, admin_user, member, no_mfa_policy):
    page = client_for(admin_user).get(f"/users/{member.pk}/").content.decode()
    assert "Locked until" not in page
    assert "/unlock/" not in page


def test_an_administrator_unlocks_a_locked_user_from_the_page(
    client, client_for, admin_user, locked_member
):
    client_for(admin_user)
    confirm = client.get(f"/users/{locked_member.pk}/unlock/")
    assert confirm.status_code == 200 and "Unlock user" in confirm.content.decode()
    done = client.post(f"/users/{locked_member.pk}/unlock/", {"reason": "Called the helpdesk"})
    assert done.status_code == 302
    assert user_lock(locked_member) is None
    event = AuditEvent.objects.get(action="accounts.user.unlocked")
    assert (event.actor_id, event.target_id, event.outcome) == (
        admin_user.pk,
        str(locked_member.pk),
        "success",
    )
    assert event.reason == "Called the helpdesk"
    assert event.changes["locked_until"][1] is None
    assert sign_in_works(locked_member.email)


def test_unlocking_a_user_who_is_not_locked_changes_and_records_nothing(
    client, client_for, admin_user, member, no_mfa_policy
):
    client_for(admin_user)
    client.post(f"/users/{member.pk}/unlock/", {"reason": ""})
    assert not AuditEvent.objects.filter(action="accounts.user.unlocked").exists()


def test_a_manager_cannot_unlock_an_administrator(client, client_for, admin_user, no_mfa_policy):
    manager = make_manager()
    # An administrator is locked only for the stranger's address.
    lock_out(client, admin_user.email)
    lock = user_lock(admin_user)
    assert lock is not None and lock.addresses == (STRANGER,)
    client_for(manager)
    page = client.get(f"/users/{admin_user.pk}/").content.decode()
    assert "Locked for 1 address until" in page
    assert "/unlock/" not in page  # not offered
    refused = client.post(f"/users/{admin_user.pk}/unlock/", {"reason": ""})
    assert refused.status_code == 403
    assert user_lock(admin_user) is not None
    denied = AuditEvent.objects.get(action="accounts.user.unlocked")
    assert (denied.actor_id, denied.outcome) == (manager.pk, "denied")


def test_the_api_unlocks_and_refuses_by_the_hierarchy(client, owner, admin_user, locked_member):
    manager = make_manager()
    lock_out(client, admin_user.email)
    refused = client.post(
        f"/api/admin/users/{admin_user.pk}/unlock",
        data={},
        content_type="application/json",
        **bearer(manager, "manager"),
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "hierarchy"
    assert user_lock(admin_user) is not None
    assert AuditEvent.objects.filter(action="accounts.user.unlocked", outcome="denied").count() == 1

    done = client.post(
        f"/api/admin/users/{locked_member.pk}/unlock",
        data={"reason": "verified by phone"},
        content_type="application/json",
        **bearer(admin_user),
    )
    assert done.status_code == 200
    assert done.json()["id"] == str(locked_member.pk)
    assert user_lock(locked_member) is None
    event = AuditEvent.objects.get(action="accounts.user.unlocked", outcome="success")
    assert (event.actor_id, event.reason) == (admin_user.pk, "verified by phone")


def test_the_api_shows_the_lock_on_a_user_and_in_the_list(client, admin_user, locked_member):
    """`UserOut.locked_until` (and, for a per-address lock, the addresses):
    what the user page's badge shows, so an API client can find whom to
    unlock."""
    key = bearer(admin_user)
    shown = client.get(f"/api/admin/users/{locked_member.pk}", **key).json()
    lock = user_lock(locked_member)
    assert shown["locked_until"] is not None
    assert shown["locked_until"][:19] == lock.until.isoformat()[:19]
    assert shown["locked_addresses"] == []
    listed = {u["email"]: u for u in client.get("/api/admin/users?limit=200", **key).json()}
    assert listed[locked_member.email]["locked_until"] == shown["locked_until"]
    assert listed[admin_user.email]["locked_until"] is None

    # A manager is locked only from the failing address, which is named.
    manager = make_manager()
    lock_out(client, manager.email)
    shown = client.get(f"/api/admin/users/{manager.pk}", **key).json()
    assert shown["locked_until"] is not None
    assert shown["locked_addresses"] == [STRANGER]

    done = client.post(
        f"/api/admin/users/{locked_member.pk}/unlock",
        data={},
        content_type="application/json",
        **key,
    )
    assert (done.json()["locked_until"], done.json()["locked_addresses"]) == (None, [])


def test_a_batch_unlocks_the_locked_and_skips_the_rest(client, admin_user, locked_member):
    other = make_user("other@example.com")
    lock_out(client, other.email)
    free = make_user("free@example.com")
    result = batch_run(
        actor=admin_user, action="unlock", user_ids=[locked_member.pk, other.pk, free.pk]
    )
    assert (result["processed"], result["skipped"]) == (2, 1)
    skipped = next(i for i in result["items"] if i["outcome"] == "skipped")
    assert (skipped["user_id"], skipped["reason"]) == (str(free.pk), "Not locked.")
    events = AuditEvent.objects.filter(action="accounts.user.unlocked")
    assert events.count() == 2
    assert len({e.batch_id for e in events}) == 1
    assert user_lock(locked_member) is None and user_lock(other) is None


def test_the_owner_is_never_hard_locked_by_strangers(client, owner, no_mfa_policy):
    lock_out(client, owner.email)
    lock = user_lock(owner)
    assert lock is not None and lock.per_address
    assert sign_in_works(owner.email, ip="192.0.2.41")


def test_a_refused_attempt_on_a_locked_account_reads_the_account_once_for_axes(
    client, locked_member
):
    """django-axes asks what a failure counts against up to four times in
    one attempt (`accounts.auth.axes_lockout_parameters`): the account and
    its permissions are read for the first question only."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            "/login/", {"email": locked_member.email, "password": "wrong"}, REMOTE_ADDR=STRANGER
        )
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    by_email = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith('SELECT "accounts_user"') and '"accounts_user"."email" =' in q["sql"]
    ]
    permissions = [q["sql"] for q in ctx.captured_queries if 'FROM "rbac_userrole"' in q["sql"]]
    # Axes' one read, and the sign-in's own refusal (`login_failed`).
    assert len(by_email) == 2, by_email
    assert len(permissions) <= 2, permissions


def test_the_answer_dies_with_its_request(client, locked_member):
    """Read once a request, not once a process: a member locked out by a
    stranger's address, then made a manager, is locked per address from
    the next request on (and signs in from their own)."""
    UserRole.objects.create(user=locked_member, role=make_manager().roles.get())
    assert sign_in_works(locked_member.email, ip="192.0.2.42")
