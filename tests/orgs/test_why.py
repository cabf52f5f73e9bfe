""" "Why can X do P (over Y)?" on the access page names the organization
each grant comes from and answers "why not": the organization and the rule."""

from __future__ import annotations

import pytest
from django.urls import reverse

from rbac.models import Role, UserRole
from rbac.policies.explain import explain

pytestmark = pytest.mark.django_db


def _ask(client, subject, permission, over=""):
    url = reverse("roles:user_access", args=[subject.pk])
    return client.get(url, {"why": permission, "over": over}).content.decode()


def test_a_grant_held_in_an_organization_is_named_there(client_for, world):
    html = _ask(client_for(world["owner"]), world["ada"], "users:ban")
    assert "Only inside Acme" in html
    assert "the role Organization admin, held in Acme" in html


def test_why_not_names_the_organization_and_the_rule(client_for, world):
    owner = client_for(world["owner"])
    html = _ask(owner, world["ada"], "users:ban", world["both"].email)
    assert "No, over bo@both.example." in html
    assert "also belongs to Globex, where ada@acme.example lacks users:ban" in html
    html = _ask(owner, world["ada"], "users:ban", world["loner"].email)
    assert "belongs to no organization, so only a global grant applies" in html
    html = _ask(owner, world["ada"], "users:ban", world["alice"].email)
    assert "Yes, over alice@acme.example." in html


def test_global_only_permissions_held_through_an_organization_role_are_explained(world):
    role = Role.objects.create(slug="acme-roles", name="Role maker", permissions=["roles:create"])
    UserRole.objects.create(user=world["ada"], role=role, organization=world["acme"])
    answer = explain(world["owner"], world["ada"], "roles:create")
    assert not answer.allowed
    assert any("global-only" in r and "Acme" in r for r in answer.reasons)


def test_the_hierarchy_is_the_rule_between_peers(world):
    answer = explain(world["owner"], world["ada"], "users:ban", world["ada"])
    assert answer.allowed  # their own account
    peer = world["alice"]
    org_admin = Role.objects.get(slug="org-admin")
    UserRole.objects.create(user=peer, role=org_admin, organization=world["acme"])
    answer = explain(world["owner"], world["ada"], "users:ban", peer)
    assert not answer.allowed and "peer" in answer.summary


def test_an_organization_the_viewer_cannot_see_is_not_named(client_for, world):
    # Gil (Globex) asks about Bo, who is also in Acme.
    answer = explain(world["gil"], world["gil"], "users:ban", world["both"])
    text = answer.summary + " ".join(answer.reasons)
    assert "Acme" not in text and "another organization" in text


def test_an_outsider_target_is_not_found_and_nothing_breaks(client_for, world):
    gil = client_for(world["gil"])
    html = _ask(gil, world["gil"], "users:ban", world["alice"].email)
    assert "No user with this address is within your reach." in html
    assert _ask(gil, world["gil"], "not:a-permission").count("Choose a permission") == 1
