"""A batch acts on exactly the users that were selected: "select all N
matching" under a filter covers those N users in the preview and in the
result, whatever the batch's own parameters are called (issue 27: the role
being assigned replaced the list's role filter)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from accounts.models import User
from rbac.models import UserRole
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


class _FormFields(HTMLParser):
    """The named inputs of one form (by id, or by its action's class),
    as a browser would send them: hidden inputs and the given choices."""

    def __init__(self, form_selector):
        super().__init__()
        self.selector = form_selector
        self.inside = False
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (
            a.get("id") == self.selector or self.selector in (a.get("class") or "").split()
        ):
            self.inside = True
        elif self.inside and tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields.append((a["name"], a.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def hidden_fields(body: str, form: str) -> list[tuple[str, str]]:
    parser = _FormFields(form)
    parser.feed(body)
    return parser.fields


def post_data(fields):
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    return data


def previewed_ids(body: str) -> set[str]:
    return set(re.findall(r"<code>([0-9a-f-]{36})</code>", body))


def user_ids(users) -> set[str]:
    return {str(u.pk) for u in users}


@pytest.fixture
def team(builtin_roles, owner):
    editors = [make_user(f"editor{i}@example.com", roles=["editor"]) for i in range(4)]
    viewers = [make_user(f"viewer{i}@example.com", roles=["viewer"]) for i in range(3)]
    plain = [make_user(f"plain{i}@example.com") for i in range(2)]
    return editors, viewers, plain


def _select_all_matching(client, query: str, action: str, role: str) -> str:
    """On the list filtered by `query`: tick "select all N matching",
    choose the action and its role, press "Preview batch"."""
    body = client.get(reverse("users:list") + "?" + query).content.decode()
    data = post_data(hidden_fields(body, "batch-form"))
    # The bar's controls come after the form's hidden inputs, as a browser
    # sends them.
    assert 'id="batch-role"' in body
    for name, value in (("action", action), ("role", role), ("all_matching", "on")):
        data.setdefault(name, []).append(value)
    response = client.post(reverse("users:batch"), data)
    assert response.status_code == 200, response.content.decode()[:2000]
    return response.content.decode()


def _run_previewed(client, preview: str) -> str:
    data = post_data(hidden_fields(preview, "batch-run-form"))
    response = client.post(reverse("users:batch"), data)
    assert response.status_code == 200, response.content.decode()[:2000]
    return response.content.decode()


def _items(body: str) -> set[str]:
    """The emails listed in the per-user rows of a preview or result (a
    result folds its processed users away, in a list of their own)."""
    body = body.replace("<wbr>", "")  # addresses wrap at "@" and "."
    found = set(re.findall(r'<td class="address">([^<@]+@example\.com)</td>', body))
    return found | set(re.findall(r'<li class="address">([^<@]+@example\.com)</li>', body))


def test_assign_role_to_all_matching_a_role_filter_acts_on_those_users_only(
    client_for, admin_user, team
):
    editors, viewers, plain = team
    client = client_for(admin_user)
    preview = _select_all_matching(client, "role=editor", "assign_role", "viewer")
    assert "Assign role: preview" in preview
    assert _items(preview) == {u.email for u in editors}
    assert "Assign role 4 users" in preview

    result = _run_previewed(client, preview)
    assert "Assign role: result" in result
    assert _items(result) == {u.email for u in editors}
    have_viewer = set(
        UserRole.objects.filter(role__slug="viewer").values_list("user__email", flat=True)
    )
    assert have_viewer == {u.email for u in editors} | {u.email for u in viewers}


def test_remove_role_from_all_matching_a_role_filter_acts_on_those_users_only(
    client_for, admin_user, team
):
    editors, viewers, plain = team
    for user in editors[:2]:
        UserRole.objects.create(user=user, role_id=viewers[0].roles.get().pk)
    client = client_for(admin_user)
    # The list shows the 4 editors; remove "Viewer" from them: 2 have it.
    preview = _select_all_matching(client, "role=editor", "remove_role", "viewer")
    assert _items(preview) == {u.email for u in editors}
    assert "Remove role 2 users" in preview

    result = _run_previewed(client, preview)
    assert _items(result) == {u.email for u in editors}
    have_viewer = set(
        UserRole.objects.filter(role__slug="viewer").values_list("user__email", flat=True)
    )
    assert have_viewer == {u.email for u in viewers}  # the 3 viewers keep theirs


def test_execute_refuses_when_the_matching_users_changed_since_the_preview(
    client_for, admin_user, team
):
    editors, viewers, plain = team
    client = client_for(admin_user)
    preview = _select_all_matching(client, "role=editor", "assign_role", "viewer")
    # Someone else makes a fifth editor after the preview was shown.
    late = make_user("late-editor@example.com", roles=["editor"])
    run = post_data(hidden_fields(preview, "batch-run-form"))
    response = client.post(reverse("users:batch"), run)
    body = response.content.decode()
    assert response.status_code == 409
    assert "changed since the preview" in body
    assert not UserRole.objects.filter(role__slug="viewer", user__in=editors + [late]).exists()


def test_no_batch_parameter_shares_a_name_with_a_list_filter(client_for, admin_user, team):
    """Every filter travels in the batch form under its own prefix, so no
    batch parameter (action, role, reason, ids, ...) can be read as one."""
    from accounts.forms import BanForm, BatchForm, UserFilterForm

    client = client_for(admin_user)
    body = client.get(
        reverse("users:list") + "?q=example&status=active&role=editor&mfa=off&sort=email&size=25"
    ).content.decode()
    sent = {name for name, _ in hidden_fields(body, "batch-form")} - {"csrfmiddlewaretoken"}
    batch_names = set(BatchForm.base_fields) | {f"ban-{n}" for n in BanForm.base_fields}
    assert sent and not sent & batch_names
    assert not sent & set(UserFilterForm.base_fields)
    assert User.objects.count() == 11
