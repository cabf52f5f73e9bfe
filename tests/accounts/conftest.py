"""Fixtures shared by the account tests."""

from __future__ import annotations

import pytest

from tests.conftest import make_user


@pytest.fixture
def no_mfa_policy(settings):
    """No second factor required: for tests about something else (sessions,
    account changes) or that enrol one themselves."""
    settings.MFA_POLICY = "none"


@pytest.fixture
def alice(owner):
    """A user with no roles, beside the owner."""
    return make_user("alice@example.com", name="Alice")


@pytest.fixture
def invite_through_pages(django_capture_on_commit_callbacks):
    """`invite_through_pages(client, emails, expires_days=...)`: the
    invitations page's review step, then Send, running the work queued for
    after the commit; returns Send's response."""

    def invite(client, emails: str, *, expires_days: int):
        client.post("/invitations/preview/", {"emails": emails, "expires_days": expires_days})
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/invitations/send/")

    return invite
