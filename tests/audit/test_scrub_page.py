"""The guarded button on a deleted user's page that scrubs their personal
data from the audit log (audit.services.audit_scrub_user)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit import services as audit
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

BUTTON = "Erase personal data…"


@pytest.fixture
def deleted_member(owner, member):
    from accounts.services.users import user_delete

    audit.record("accounts.user.updated", actor=owner, target=member, reason="Mona Member asked")
    user_delete(actor=owner, user=member, reason="Asked by member@example.com")
    member.refresh_from_db()
    return member


def test_the_deleted_users_page_offers_the_scrub_to_a_user_with_users_delete(
    client_for, owner, deleted_member, member
):
    page = client_for(owner).get(reverse("users:detail", args=[deleted_member.pk]))
    assert BUTTON in page.content.decode()
    assert reverse("audit:user_scrub", args=[deleted_member.pk]) in page.content.decode()


def test_the_scrub_button_is_not_offered_for_a_live_user_or_without_users_delete(
    client_for, owner, viewer, editor, deleted_member
):
    live = client_for(owner).get(reverse("users:detail", args=[editor.pk]))
    assert BUTTON not in live.content.decode()
    as_viewer = client_for(viewer).get(reverse("users:detail", args=[deleted_member.pk]))
    assert BUTTON not in as_viewer.content.decode()


def test_the_scrub_asks_first_then_erases_and_the_chain_still_verifies(
    client_for, owner, deleted_member
):
    client = client_for(owner)
    url = reverse("audit:user_scrub", args=[deleted_member.pk])
    ask = client.get(url)
    assert ask.status_code == 200
    assert "This cannot be undone." in ask.content.decode()
    assert not AuditEvent.objects.filter(action="audit.user.scrubbed").exists()

    done = client.post(url, follow=True)

    assert done.redirect_chain[-1][0] == reverse("users:detail", args=[deleted_member.pk])
    event = AuditEvent.objects.get(action="audit.user.scrubbed", outcome="success")
    scrubbed = event.changes["scrubbed"]
    assert f"Personal data erased from {scrubbed} audit events." in done.content.decode()
    about = AuditEvent.objects.filter(target_id=str(deleted_member.pk)).exclude(pk=event.pk)
    dump = repr(list(about.values_list("target_label", "reason", "changes")))
    assert "member@example.com" not in dump and "Mona" not in dump
    assert audit.verify_chain().ok


def test_the_scrub_is_refused_for_a_user_who_is_not_deleted(client_for, owner, member):
    response = client_for(owner).post(reverse("audit:user_scrub", args=[member.pk]))
    assert response.status_code == 400
    assert (
        "Only a deleted user&#x27;s personal data can be scrubbed; delete the user first."
        in response.content.decode()
    )
    # Invalid input (asked after the guard), not a refusal: nothing denied.
    assert not AuditEvent.objects.filter(action="audit.user.scrubbed").exists()


def test_the_scrub_is_refused_without_users_delete(client_for, viewer, deleted_member):
    response = client_for(viewer).post(reverse("audit:user_scrub", args=[deleted_member.pk]))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="audit.user.scrubbed", outcome="success").exists()


def test_the_scrub_page_of_a_live_user_explains_instead_of_offering_the_form(
    client_for, owner, member
):
    page = client_for(owner).get(reverse("audit:user_scrub", args=[member.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert (
        "Only a deleted user&#x27;s personal data can be scrubbed; delete the user first." in body
    )
    assert "Erase personal data</button>" not in body
