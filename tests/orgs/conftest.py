"""Two organizations, their administrators and members, and a user in
none: the world the organization tests act in."""

from __future__ import annotations

import pytest

from rbac.models import Membership, Organization, Role, UserRole
from tests.api.conftest import call  # noqa: F401 (fixture)
from tests.conftest import make_user


def join(user, org, *roles):
    Membership.objects.create(user=user, organization=org)
    for slug in roles:
        UserRole.objects.create(user=user, role=Role.objects.get(slug=slug), organization=org)


def three_organizations() -> dict:
    """Acme ("Acme & <Sons>": escaping), Globex and Initech, with Ada the
    administrator of Acme: what the organization filters' tests read
    (`tests/accounts/` and `tests/audit/test_organization_filter.py`)."""
    acme = Organization.objects.create(slug="acme", name="Acme & <Sons>")
    globex = Organization.objects.create(slug="globex", name="Globex")
    Organization.objects.create(slug="initech", name="Initech")
    ada = make_user("ada@acme.example", name="Ada Admin")
    join(ada, acme, "org-admin")
    return {"acme": acme, "globex": globex, "ada": ada}


@pytest.fixture
def world(owner):
    acme = Organization.objects.create(slug="acme", name="Acme")
    globex = Organization.objects.create(slug="globex", name="Globex")
    ada = make_user("ada@acme.example", name="Ada Admin")  # administrator of Acme only
    join(ada, acme, "org-admin")
    gil = make_user("gil@globex.example", name="Gil Admin")  # administrator of Globex only
    join(gil, globex, "org-admin")
    alice = make_user("alice@acme.example", name="Alice")  # in Acme only
    join(alice, acme, "member")
    both = make_user("bo@both.example", name="Bo Both")  # in Acme and Globex
    join(both, acme, "member")
    join(both, globex, "member")
    loner = make_user("lou@nowhere.example", name="Lou Loner")  # in no organization
    return {
        "acme": acme,
        "globex": globex,
        "ada": ada,
        "gil": gil,
        "alice": alice,
        "both": both,
        "loner": loner,
        "owner": owner,
    }
