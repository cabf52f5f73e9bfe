"""The assignment dialogs offer an organization's administrator only the
roles they may give there, and every dialog and the role pages say which
permissions a role held in an organization leaves out (its global-only
ones)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from rbac.actor import Actor
from rbac.models import Role
from rbac.permissions import GLOBAL_ONLY
from rbac.policies import allows
from rbac.policies.orgs import check_can_assign_org_role

pytestmark = pytest.mark.django_db


def _options(html: str, select_id: str) -> list[str]:
    select = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_an_organization_admin_is_offered_only_the_roles_they_may_give_there(client_for, world):
    page = client_for(world["ada"]).get(reverse("organizations:detail", args=["acme"]))
    html = page.content.decode()
    offered = _options(html, f"role-{world['alice'].pk}")
    # Admin confers there what Ada lacks there (users:delete, audit:read, ...).
    assert "admin" not in offered and "owner" not in offered
    assert {"member", "org-admin"} <= set(offered)
    assert _options(html, "id_invite_role") == ["", *offered]
    # Each offered role is one Ada may give Alice.
    actor = Actor.for_session(world["ada"], "s")
    for slug in offered:
        role = Role.objects.get(slug=slug)
        assert allows(check_can_assign_org_role, actor, world["acme"], world["alice"], role)
    response = client_for(world["ada"]).post(
        reverse("organizations:role_assign", args=["acme", world["alice"].pk]),
        {"role": "org-admin"},
    )
    assert response.status_code == 302
    # Alice is now Ada's peer in Acme: her row offers no change any more.
    html = client_for(world["ada"]).get(reverse("organizations:detail", args=["acme"]))
    assert f'id="role-{world["alice"].pk}"' not in html.content.decode()
    assert (
        reverse("organizations:member_remove", args=["acme", world["alice"].pk])
        not in html.content.decode()
    )


def test_the_dialogs_say_what_a_role_leaves_out_in_an_organization(client_for, world):
    owner = client_for(world["owner"])
    html = owner.get(reverse("organizations:detail", args=["acme"])).content.decode()
    assert "What these roles leave out in an organization" in html
    admin_left_out = re.search(r"<li>Admin: (.*?)</li>", html).group(1)
    assert "<code>roles:create</code>" in admin_left_out
    assert "<code>users:read</code>" not in admin_left_out
    assert re.search(r"Admin \(leaves out \d+ global-only\)", html)
    access = owner.get(reverse("roles:user_access", args=[world["alice"].pk])).content.decode()
    assert "What these roles leave out in an organization" in access
    assert "<li>Member: nothing</li>" in access


def test_the_role_pages_mark_global_only_permissions(client_for, world):
    owner = client_for(world["owner"])
    detail = owner.get(reverse("roles:detail", args=["admin"])).content.decode()
    assert "Held in an organization, this role leaves out its global-only permissions" in detail
    assert "<code>roles:create</code>" in detail
    edit = owner.get(reverse("roles:edit", args=["editor"])).content.decode()
    assert edit.count("does not confer this permission there") == len(GLOBAL_ONLY)
