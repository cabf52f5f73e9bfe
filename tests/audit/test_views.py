"""The audit log pages: filters, keyset pages, event detail, a user's trail."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from audit import services as audit
from audit.models import AuditEvent
from rbac.actor import Actor
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _event(action="tests.thing.done", **kwargs):
    return audit.record(action, **kwargs)


def test_audit_log_requires_audit_read(client_for, editor):
    response = client_for(editor).get(reverse("audit:list"))
    assert response.status_code == 403
    assert "You need the permission audit:read to see this page." in response.content.decode()


def test_audit_log_lists_newest_first(client_for, admin_user):
    first = _event("tests.first")
    second = _event("tests.second")
    response = client_for(admin_user).get(reverse("audit:list"))
    events = list(response.context["page"].events)
    assert events[0].pk > events[1].pk
    assert [e.pk for e in events][:2] == [second.pk, first.pk]


def test_filters_by_actor_target_action_outcome_ip_batch(client_for, admin_user, member):
    batch = uuid.uuid4()
    wanted = _event("accounts.user.banned", actor=admin_user, target=member, batch_id=batch)
    _event("accounts.user.banned", actor=member, target=admin_user)
    _event("accounts.login.failed", outcome="failed", actor_label="x@example.com")
    client = client_for(admin_user)

    def ids(**params):
        response = client.get(reverse("audit:list"), params)
        assert response.status_code == 200
        return {e.pk for e in response.context["page"].events}

    assert ids(actor=admin_user.email) == {wanted.pk}
    assert ids(actor=str(admin_user.pk)) == {wanted.pk}
    assert ids(target=member.email) == {wanted.pk}
    assert ids(batch=str(batch)) == {wanted.pk}
    assert len(ids(action="accounts.user.banned")) == 2
    assert len(ids(action="accounts.user.*")) == 2
    assert len(ids(outcome="failed")) == 1
    assert ids(actor="x@example.com", outcome="failed")


def test_filters_by_ip_and_date_range(client_for, admin_user):
    from audit import context

    token = context.set_current(context.RequestContext(ip="203.0.113.7"))
    try:
        from_there = _event("tests.from.there")
    finally:
        context.reset(token)
    _event("tests.elsewhere")
    client = client_for(admin_user)
    response = client.get(reverse("audit:list"), {"ip": "203.0.113.7"})
    assert [e.pk for e in response.context["page"].events] == [from_there.pk]
    today = timezone.now().date()
    response = client.get(
        reverse("audit:list"), {"date_from": today - dt.timedelta(days=3), "date_to": today}
    )
    assert from_there.pk in {e.pk for e in response.context["page"].events}
    response = client.get(
        reverse("audit:list"), {"date_to": (today - dt.timedelta(days=3)).isoformat()}
    )
    assert not response.context["page"].events


def test_free_text_search_in_labels_and_reason(client_for, admin_user):
    hit = _event("tests.x", target=audit.Target("user", "1", "zebra@example.com"))
    reasoned = _event("tests.y", reason="Spam from the zebra farm")
    _event("tests.z", target=audit.Target("user", "2", "lion@example.com"))
    response = client_for(admin_user).get(reverse("audit:list"), {"q": "zebra"})
    assert {e.pk for e in response.context["page"].events} == {hit.pk, reasoned.pk}


def test_invalid_filters_show_an_error_not_a_500(client_for, admin_user):
    response = client_for(admin_user).get(
        reverse("audit:list"),
        {"ip": "not-an-ip", "batch": "nope", "date_from": "2024-13-45", "action": "<script>"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Some filters are not valid" in body
    assert "<script>" not in body


def test_cursor_pagination_walks_every_event_once(client_for, admin_user):
    AuditEvent.objects.bulk_create(
        [AuditEvent(action="tests.bulk", reason=str(i)) for i in range(120)]
    )
    client = client_for(admin_user)
    seen, params, pages = [], {"action": "tests.bulk"}, 0
    while True:
        page = client.get(reverse("audit:list"), params).context["page"]
        seen += [e.pk for e in page.events]
        pages += 1
        if not page.older:
            break
        params = {"action": "tests.bulk", "before": page.older}
    assert pages == 3
    assert len(seen) == 120 == len(set(seen))
    assert seen == sorted(seen, reverse=True)
    # And back up: the newer link from the last page returns the page before it.
    newer = client.get(reverse("audit:list"), {"action": "tests.bulk", "after": page.newer})
    assert [e.pk for e in newer.context["page"].events] == seen[50:100]


def test_list_pages_do_not_count_and_have_bounded_queries(
    client_for, admin_user, django_assert_max_num_queries
):
    AuditEvent.objects.bulk_create([AuditEvent(action="tests.bulk") for _ in range(80)])
    client = client_for(admin_user)
    client.get(reverse("audit:list"))
    with django_assert_max_num_queries(8) as captured:
        client.get(reverse("audit:list"), {"q": "x", "before": 10_000})
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)


def test_action_filter_offers_an_event_type_recorded_a_moment_ago(client_for, admin_user):
    client = client_for(admin_user)
    assert "tests.brand_new.happened" not in client.get(reverse("audit:list")).content.decode()
    _event("tests.brand_new.happened")
    body = client.get(reverse("audit:list")).content.decode()
    assert 'value="tests.brand_new.happened"' in body


def test_known_actions_are_distinct_and_sorted(admin_user):
    from audit.selectors import known_actions

    for action in ("tests.b.two", "tests.a.one", "tests.b.two", "tests.c.three"):
        _event(action)
    actions = known_actions()
    assert actions == sorted(set(actions))
    assert {"tests.a.one", "tests.b.two", "tests.c.three"} <= set(actions)


def test_htmx_request_gets_only_the_results(client_for, admin_user):
    _event("tests.htmx")
    response = client_for(admin_user).get(reverse("audit:list"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="audit-results"')
    assert "<html" not in body


def test_event_detail_shows_the_diff_and_request_facts(client_for, admin_user, member):
    from audit import context

    token = context.set_current(
        context.RequestContext(ip="198.51.100.4", user_agent="Firefox/200", request_id="req-42")
    )
    try:
        event = _event(
            "accounts.user.updated",
            actor=admin_user,
            target=member,
            reason="Typo in name",
            changes={"name": ["Mona", "Mona Lisa"]},
        )
    finally:
        context.reset(token)
    response = client_for(admin_user).get(reverse("audit:detail", args=[event.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    for text in ("Mona Lisa", "198.51.100.4", "Firefox/200", "req-42", "Typo in name"):
        assert text in body
    assert 'class="diff-old"' in body and 'class="diff-new"' in body
    assert f"?actor={admin_user.pk}" in body and f"?target={member.pk}" in body


def test_event_detail_of_a_missing_event_is_404(client_for, admin_user):
    response = client_for(admin_user).get(reverse("audit:detail", args=[999999]))
    assert response.status_code == 404


def test_user_trail_lists_events_by_and_about_the_user(client_for, admin_user, member):
    by = _event("tests.by", actor=member)
    about = _event("tests.about", actor=admin_user, target=member)
    _event("tests.unrelated", actor=admin_user, target=admin_user)
    response = client_for(admin_user).get(reverse("audit:user_trail", args=[member.pk]))
    assert [e.pk for e in response.context["events"]] == [about.pk, by.pk]
    full = client_for(admin_user).get(reverse("audit:list"), {"user": str(member.pk)})
    assert {e.pk for e in full.context["page"].events} == {about.pk, by.pk}


def test_user_section_template_loads_the_trail(rf, admin_user, member):
    from django.template.loader import render_to_string

    request = rf.get("/users/")
    request.user, request.actor = admin_user, Actor.for_session(admin_user, "test-session")
    html = render_to_string(
        "users/sections/audit.html",
        {"subject": member, "request": request, "user_permissions": admin_user.permissions},
    )
    assert reverse("audit:user_trail", args=[member.pk]) in html
    viewer = make_user("v2@example.com", roles=["viewer"])
    html = render_to_string(
        "users/sections/audit.html",
        {"subject": member, "request": request, "user_permissions": viewer.permissions},
    )
    assert "Activity" not in html


def test_an_event_shows_a_role_by_its_name_not_its_slug(client_for, admin_user, member):
    from rbac import services as rbac_services
    from rbac.models import Role

    support = Role.objects.create(slug="tier-2", name="Support, tier 2", permissions=[])
    rbac_services.user_role_assign(actor=admin_user, user=member, role=support)
    event = AuditEvent.objects.get(action="rbac.user_role.assigned")
    body = client_for(admin_user).get(reverse("audit:detail", args=[event.pk])).content.decode()
    diff = body.split('class="table table-sm audit-diff', 1)[1].split("</table>", 1)[0]
    assert "Support, tier 2" in diff and "tier-2" not in diff
    support.delete()  # a role deleted since: its slug is all there is
    body = client_for(admin_user).get(reverse("audit:detail", args=[event.pk])).content.decode()
    assert "tier-2" in body.split('class="table table-sm audit-diff', 1)[1]
