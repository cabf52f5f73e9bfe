"""The organization pages: the list and create, an organization's page
(members, their roles there), adding and removing members and changing
their roles -- and 404 for an organization outside one's reach."""

from __future__ import annotations

import pytest
from django.urls import reverse

from rbac.models import Membership, Organization, UserRole

pytestmark = pytest.mark.django_db


def test_create_an_organization_and_manage_its_members(client_for, admin_user, member):
    client = client_for(admin_user)
    assert client.get(reverse("organizations:list")).status_code == 200
    response = client.post(reverse("organizations:list"), {"slug": "acme", "name": "Acme"})
    assert response.status_code == 302
    org = Organization.objects.get(slug="acme")
    response = client.post(
        reverse("organizations:member_add", args=["acme"]),
        {"email": member.email, "role": "member"},
    )
    assert response.status_code == 302
    assert Membership.objects.filter(user=member, organization=org).exists()
    page = client.get(reverse("organizations:detail", args=["acme"])).content.decode()
    assert member.email in page and "Member" in page
    response = client.post(
        reverse("organizations:role_assign", args=["acme", member.pk]), {"role": "viewer"}
    )
    assert UserRole.objects.filter(user=member, organization=org, role__slug="viewer").exists()
    client.post(reverse("organizations:role_remove", args=["acme", member.pk, "viewer"]))
    assert not UserRole.objects.filter(user=member, organization=org, role__slug="viewer").exists()
    client.post(reverse("organizations:member_remove", args=["acme", member.pk]))
    assert not Membership.objects.filter(user=member, organization=org).exists()


def test_an_organization_admin_sees_only_their_organization(client_for, world):
    client = client_for(world["ada"])
    listed = client.get(reverse("organizations:list")).content.decode()
    assert "Acme" in listed and "Globex" not in listed
    assert "New organization" not in listed
    assert client.get(reverse("organizations:detail", args=["globex"])).status_code == 404
    response = client.post(reverse("organizations:member_remove", args=["globex", world["gil"].pk]))
    assert response.status_code == 404
    response = client.post(reverse("organizations:list"), {"slug": "evil", "name": "Evil"})
    assert response.status_code == 403 and not Organization.objects.filter(slug="evil").exists()
    page = client.get(reverse("organizations:detail", args=["acme"])).content.decode()
    assert "alice@acme.example" in page and "gil@globex.example" not in page


def test_the_users_list_filters_by_organization_and_shows_the_column(client_for, world, admin_user):
    client = client_for(admin_user)
    response = client.get(reverse("users:list"), {"organization": "globex", "size": 100})
    emails = {u.email for u in response.context["page"].users}
    assert emails == {"gil@globex.example", "bo@both.example"}
    body = response.content.decode()
    assert 'href="?organization=acme"' in body and "Any organization" in body
    # An organization administrator is offered only their own organization.
    body = client_for(world["ada"]).get(reverse("users:list")).content.decode()
    assert "Globex" not in body


def test_the_user_page_lists_memberships_and_gives_a_role_through_the_picker(client_for, world):
    client = client_for(world["ada"])
    alice = world["alice"]
    access = client.get(reverse("roles:user_access", args=[alice.pk])).content.decode()
    assert "Organizations" in access and "Acme" in access and "Member" in access
    response = client.post(
        reverse("organizations:role_picker", args=[alice.pk]),
        {"organization": "acme", "role": "viewer"},
    )
    assert response.status_code == 302
    assert UserRole.objects.filter(
        user=alice, role__slug="viewer", organization__slug="acme"
    ).exists()
    # Not in an organization outside one's reach.
    response = client.post(
        reverse("organizations:role_picker", args=[world["both"].pk]),
        {"organization": "globex", "role": "viewer"},
    )
    assert response.status_code == 404
    # A global role is not offered to an organization administrator.
    assert "roles:assign" not in Actor_global(world["ada"])


def Actor_global(user):
    from rbac.actor import Actor

    return Actor.for_session(user, "s").global_permissions


def test_django_admin_is_not_an_organization_administrators_door(client, world):
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    ada = world["ada"]
    device = TOTPDevice.objects.create(user=ada, name="phone", confirmed=True)
    client.force_login(ada, backend="accounts.backends.EmailBackend")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    response = client.get("/admin/accounts/user/")
    assert response.status_code in (302, 403)
    assert "gil@globex.example" not in response.content.decode()
