"""The users list filter's roles and organizations are cached
(`accounts.views.filter_choices`, issue 29): a role or organization
created, renamed or deleted through its service shows in the filter at the
next page, and the cached organizations are never another actor's."""

from __future__ import annotations

import pytest
from django.urls import reverse

from rbac.models import Organization
from rbac.services import organizations as organization_services
from rbac.services import roles as role_services
from tests.conftest import make_user
from tests.orgs.conftest import join

pytestmark = pytest.mark.django_db


def _choices(client, field: str) -> list:
    response = client.get(reverse("users:list"))
    assert response.status_code == 200
    return list(response.context["form"].fields[field].choices)


def test_a_role_created_renamed_or_deleted_shows_in_the_filter_at_once(
    client_for, owner, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    assert ("auditors", "Auditors") not in _choices(client, "role")  # cached now
    with django_capture_on_commit_callbacks(execute=True):
        role = role_services.role_create(actor=owner, slug="auditors", name="Auditors")
    assert ("auditors", "Auditors") in _choices(client, "role")
    with django_capture_on_commit_callbacks(execute=True):
        role_services.role_update(actor=owner, role=role, name="Inspectors")
    roles = _choices(client, "role")
    assert ("auditors", "Inspectors") in roles and ("auditors", "Auditors") not in roles
    with django_capture_on_commit_callbacks(execute=True):
        role_services.role_delete(actor=owner, role=role, confirm=True)
    assert "auditors" not in {slug for slug, _ in _choices(client, "role")}


def test_an_organization_created_renamed_or_deleted_shows_in_the_filter_at_once(
    client_for, owner, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    assert _choices(client, "organization") == [("", "Any organization")]  # cached now
    with django_capture_on_commit_callbacks(execute=True):
        acme = organization_services.organization_create(actor=owner, slug="acme", name="Acme")
    assert ("acme", "Acme") in _choices(client, "organization")
    with django_capture_on_commit_callbacks(execute=True):
        organization_services.organization_update(actor=owner, organization=acme, name="Acme Corp")
    assert ("acme", "Acme Corp") in _choices(client, "organization")
    with django_capture_on_commit_callbacks(execute=True):
        organization_services.organization_delete(actor=owner, organization=acme)
    assert _choices(client, "organization") == [("", "Any organization")]


def test_the_cached_organizations_are_each_actors_own(client_for, owner):
    acme = Organization.objects.create(slug="acme", name="Acme")
    globex = Organization.objects.create(slug="globex", name="Globex")
    ada = make_user("ada@acme.example", name="Ada Admin")
    join(ada, acme, "org-admin")
    gil = make_user("gil@globex.example", name="Gil Globex")
    join(gil, globex, "org-admin")
    # The owner's list (every organization) is cached first.
    assert ("globex", "Globex") in _choices(client_for(owner), "organization")
    ada_page = client_for(ada).get(reverse("users:list"))
    assert list(ada_page.context["form"].fields["organization"].choices) == [
        ("", "Any organization"),
        ("acme", "Acme"),
    ]
    assert b"Globex" not in ada_page.content
    assert _choices(client_for(gil), "organization") == [
        ("", "Any organization"),
        ("globex", "Globex"),
    ]
    # Ada joins Globex too: another reach, another list, at once.
    join(ada, globex, "org-admin")
    assert ("globex", "Globex") in _choices(client_for(ada), "organization")


def test_a_page_reads_the_cached_choices_and_their_generations_in_one_round_trip(
    client_for, owner, monkeypatch
):
    from django.core.cache import caches

    Organization.objects.create(slug="acme", name="Acme")
    client = client_for(owner)
    _choices(client, "organization")  # cached now
    backend = caches["default"]
    reads = []
    get_many = backend.get_many

    def counted(keys, *args, **kwargs):
        reads.append(sorted(k.split(":")[1] for k in keys))
        return get_many(keys, *args, **kwargs)

    monkeypatch.setattr(backend, "get_many", counted)
    assert ("acme", "Acme") in _choices(client, "organization")
    filter_reads = [r for r in reads if "filter" in r or "generation" in r]
    assert filter_reads == [["filter", "filter", "generation", "generation"]]
