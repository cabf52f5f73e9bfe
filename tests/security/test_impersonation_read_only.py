"""Viewing as someone changes nothing (issue 26), through every door of the
dashboard.

The test walks the URLconf (no route is listed by hand): each route is
filled in with real rows (a user below the one viewed as, their session and
factor, an invitation, an email, a job, a role, a key, an audit event, live
one-time tokens), its page is read for the form it offers, and the form is
posted with plausible values -- by an operator with full access, freshly
re-authenticated, viewing as an admin who could do almost anything. Every
route that takes a POST must leave the database as it was and leave a
refused audit row naming both people. Routes that end the view or the
operator's own session are the only ones left out (`ENDS_THE_VIEW`).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import uuid
from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import (
    ApiKey,
    BatchJob,
    Invitation,
    OneTimeToken,
    OutboundEmail,
    TokenPurpose,
    User,
    UserSession,
)
from accounts.services import impersonation as impersonation_services
from accounts.services.sealing import seal
from accounts.services.tokens import new_token
from audit.models import AuditEvent
from rbac.models import Membership, Organization, Role, UserRole
from rbac.permissions import ALL_PERMISSIONS
from tests.conftest import STRONG_PASSWORD, make_user, reauthenticate, verify_session
from tests.security.conftest import figure
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services.endpoints import new_secret

pytestmark = pytest.mark.django_db

# Signing out ends the operator's own session (and the view with it);
# stopping ends the view. Neither changes anything about anyone else.
ENDS_THE_VIEW = {"logout", "impersonation:stop"}
# Prefixes that guard themselves (tests of their own).
SELF_GUARDED = ("admin/", "api/")

# What a form field gets when the page offers no value (by field name).
FIELD_VALUES = {
    "reason": "walk",
    "email": "walked@example.com",
    "new_email": "walked@example.com",
    "emails": "walked@example.com",
    "name": "Walked",
    "phone": "",
    "password": STRONG_PASSWORD,
    "current_password": STRONG_PASSWORD,
    "new_password": "Walked-Horse-Battery-77",
    "new_password_again": "Walked-Horse-Battery-77",
    "confirm_email": "gone@example.com",
    "amount": "1",
    "new_password1": "Walked-Horse-Battery-77",
    "new_password2": "Walked-Horse-Battery-77",
    "password1": "Walked-Horse-Battery-77",
    "password2": "Walked-Horse-Battery-77",
    "code": "123456",
    "confirm": "on",
    "until": "",
    "slug": "walked",
    "description": "walked",
    "permissions": "users:read",
    "scopes": "users:read",
    "action": "ban",
    "ids": "",
    "new_owner": "",
    "template": "",
}

# Fields given a new value even when the page fills them in (an edit form
# posted back as it is changes nothing).
CHANGED = {"name", "description"}


class _Form(HTMLParser):
    """The page's own POST form (posting to the page itself, not the
    sidebar's sign-out or the banner's Stop): its fields and values."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.fields: dict[str, list[str]] = {}
        self.inside = False
        self.done = False
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.done:
            return
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self.inside = (a.get("action") or self.path) == self.path
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and name != "csrfmiddlewaretoken":
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a or name not in self.fields:
                    self.fields.setdefault(name, [])
                    if "checked" in a or not self.fields[name]:
                        self.fields[name] = [a.get("value", "on")]
            else:
                self.fields.setdefault(name, []).append(a.get("value") or "")
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, [])
        elif tag == "option" and self._select and not self.fields[self._select]:
            if a.get("value"):
                self.fields[self._select] = [a["value"]]
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = [""]

    def handle_data(self, data):
        if self._textarea and data.strip():
            self.fields[self._textarea] = [data.strip()]

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def _routes(resolver=None, prefix="", namespace=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            yield from _routes(entry, route, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern) and not route.startswith(SELF_GUARDED):
            yield route, f"{namespace}{entry.name}"


@pytest.fixture
def world(owner, client_for):
    """The operator (full access) viewing as an admin, and a row for every
    kind of route parameter."""
    grace = make_user(
        "grace@example.com", name="Grace Hopper", direct_permissions=sorted(ALL_PERMISSIONS)
    )
    adam = make_user("adam@example.com", name="Adam Admin", roles=["admin"])
    mona = make_user("mona@example.com", name="Mona Member")
    gone = make_user("gone@example.com", name="Gone Member")
    banned = make_user("banned@example.com", banned_until=timezone.now() + dt.timedelta(days=1))
    disabled = make_user("disabled@example.com", disabled_at=timezone.now())
    User.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    role = Role.objects.create(slug="helpers", name="Helpers", permissions=["users:read"])
    UserRole.objects.create(user=mona, role=role)
    sessions = {
        u.pk: UserSession.objects.create(session_key=uuid.uuid4().hex, user=u) for u in (adam, mona)
    }
    factors = {
        u.pk: TOTPDevice.objects.create(user=u, name="phone", confirmed=True) for u in (adam, mona)
    }
    invitation_token, digest = new_token()
    invitation = Invitation.objects.create(
        email="invitee@example.com",
        token_hash=digest,
        expires_at=timezone.now() + dt.timedelta(days=7),
        invited_by=owner,
    )
    email = OutboundEmail.objects.create(
        to=mona.email, user=mona, template="t", subject="s", body_text="b", status="failed"
    )
    job = BatchJob.objects.create(
        actor=adam,
        action="ban",
        user_ids=[str(mona.pk)],
        total=1,
        status="running",
        permission="users:ban",
    )
    key = ApiKey.objects.create(
        user=adam, name="k", prefix="hv_walk", key_hash="w" * 64, scopes=["users:read"]
    )
    tokens = {}
    for purpose in (
        TokenPurpose.PASSWORD_RESET,
        TokenPurpose.MAGIC_LINK,
        TokenPurpose.EMAIL_VERIFY,
        TokenPurpose.SIGN_IN_REPORT,
    ):
        plain, digest = new_token()
        OneTimeToken.objects.create(
            user=mona,
            purpose=purpose,
            token_hash=digest,
            expires_at=timezone.now() + dt.timedelta(hours=1),
        )
        tokens[purpose] = plain
    organization = Organization.objects.create(slug="walk-org", name="Walk")
    Membership.objects.create(user=mona, organization=organization)
    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/in", secret=seal(new_secret()), created_by=owner
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_type="webhook.test",
        payload="{}",
        webhook_id="msg_walk",
        sequence=1,
        status="failed",
    )
    event = AuditEvent.objects.order_by("-id").first()
    client = client_for(grace)
    client.post(f"/users/{adam.pk}/impersonate/", {"reason": "walking the URLconf"})
    assert impersonation_services.SESSION_KEY in client.session
    reauthenticate(client)
    values = {
        "pk": str(mona.pk),
        "user_id": str(mona.pk),
        "key_id": str(key.pk),
        "slug": role.slug,
        "factor_id": f"totp-{factors[mona.pk].pk}",
        "session_pk": str(sessions[mona.pk].pk),
        "own_factor_id": f"totp-{factors[adam.pk].pk}",
        "own_session_pk": str(sessions[adam.pk].pk),
        "invitation": str(invitation.pk),
        "email": str(email.pk),
        "job": str(job.pk),
        "event": str(event.pk if event else 1),
        "gone": str(gone.pk),
        "banned": str(banned.pk),
        "disabled": str(disabled.pk),
        "password_reset": tokens[TokenPurpose.PASSWORD_RESET],
        "magic_link": tokens[TokenPurpose.MAGIC_LINK],
        "email_verify": tokens[TokenPurpose.EMAIL_VERIFY],
        "sign_in_report": tokens[TokenPurpose.SIGN_IN_REPORT],
        "invite": invitation_token,
        "webhook": str(endpoint.pk),
        "organization": organization.slug,
        "role_slug": role.slug,
        "delivery_id": str(delivery.pk),
    }
    return {"client": client, "grace": grace, "adam": adam, "values": values}


def _fill(route: str, values: dict) -> str:
    """The route with its parameters pointing at real rows."""

    def one(match):
        name = match.group(2)
        if name == "pk" and route.startswith("account/sessions/"):
            return values["own_session_pk"]
        if name == "factor_id" and route.startswith("account/"):
            return values["own_factor_id"]
        if name == "pk" and "sessions/" in route:
            return values["session_pk"]
        if name == "pk" and route.startswith("invitations/import/"):
            return values["job"]
        if name == "pk" and route.startswith("invitations/"):
            return values["invitation"]
        if name == "pk" and route.startswith("emails/"):
            return values["email"]
        if name == "pk" and route.startswith(("jobs/", "users/batch/")):
            return values["job"]
        if name == "slug" and route.startswith("organizations/"):
            return values["organization"]
        if name == "pk" and route.startswith("webhooks/"):
            return values["webhook"]
        if name == "pk" and route.startswith("audit/"):
            return values["event"]
        if name == "pk" and route.endswith(("restore/", "hard-delete/")):
            return values["gone"]
        if name == "pk" and route.endswith("unban/"):
            return values["banned"]
        if name == "pk" and route.endswith("enable/"):
            return values["disabled"]
        if name == "user_id" and route.endswith("scrub/"):
            return values["gone"]
        if name == "token":
            for prefix, key in (
                ("password/reset/", "password_reset"),
                ("magic/", "magic_link"),
                ("verify/", "email_verify"),
                ("invite/", "invite"),
                ("sign-in/not-me/", "sign_in_report"),
            ):
                if route.startswith(prefix):
                    return values[key]
        return values[name]

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", one, route)


def _snapshot() -> dict:
    """What a change would touch, without the bookkeeping a read writes
    (a session's last-seen time, a factor's throttling counters)."""
    volatile = {"last_seen_at", "last_used_at", "last_login", "throttling_failure_count"}
    volatile |= {"throttling_failure_timestamp", "last_t"}
    models = (User, UserRole, Role, UserSession, TOTPDevice, Invitation, OutboundEmail)
    models += (BatchJob, ApiKey, OneTimeToken, WebhookEndpoint, WebhookDelivery)
    models += (Organization, Membership)
    return {
        m.__name__: sorted(
            (tuple(sorted((k, str(v)) for k, v in row.items() if k not in volatile)))
            for row in m.objects.values()
        )
        for m in models
    }


class _Rollback(Exception):
    pass


def _form_data(client, url):
    """Read the page (following the token pages' redirect) for the form it
    offers; returns (where to post, the form's values filled in)."""
    page = client.get(url, follow=True)
    target = page.request["PATH_INFO"] if page.redirect_chain else url
    form = _Form(target)
    if page.status_code == 200 and "html" in page.get("Content-Type", ""):
        form.feed(page.content.decode())
    data = dict(form.fields)
    for field, value in FIELD_VALUES.items():
        empty = data.get(field) in (None, [], [""])
        if (field in form.fields or not form.fields) and (empty or field in CHANGED):
            data[field] = [value]
    return target, data


def _changes_as_the_user(client, url) -> bool:
    """Whether the same request, made by the user viewed as themselves,
    changes anything (run in a savepoint that is rolled back)."""
    changed = False
    cookies = copy.deepcopy(client.cookies)  # a password change rotates the session
    try:
        with transaction.atomic():
            target, data = _form_data(client, url)
            before = _snapshot()
            client.post(target, data)
            changed = _snapshot() != before
            raise _Rollback
    except _Rollback:
        pass
    client.cookies = cookies
    return changed


def test_every_mutating_route_is_refused_while_viewing_as_someone(world, client):
    viewer, grace, adam = world["client"], world["grace"], world["adam"]
    own = Client(raise_request_exception=False)
    own.force_login(adam, backend="accounts.backends.EmailBackend")
    verify_session(own, adam)
    own.get("/healthz")
    reauthenticate(own)
    viewer.raise_request_exception = False
    mutating, other, failures = [], [], []
    for route, name in _routes():
        if name in ENDS_THE_VIEW:
            continue
        url = _fill(route, world["values"])
        if viewer.post(url, {}).status_code == 405 and own.post(url, {}).status_code == 405:
            continue  # takes no POST
        is_mutating = _changes_as_the_user(own, url)
        target, data = _form_data(viewer, url)
        before_state, last = _snapshot(), AuditEvent.objects.order_by("-id").first()
        response = viewer.post(target, data)
        new = AuditEvent.objects.filter(id__gt=last.id if last else 0)
        refused = new.filter(outcome="denied", actor_id=grace.pk, acting_for_id=adam.pk)
        changed = _snapshot() != before_state
        still_viewing = impersonation_services.SESSION_KEY in viewer.session
        (mutating if is_mutating else other).append(f"{response.status_code} {route}")
        if changed or not still_viewing or (is_mutating and not refused.exists()):
            failures.append(
                f"{route} ({name}) -> {response.status_code}: changed={changed}, "
                f"refusal rows={refused.count()}, still viewing={still_viewing}, "
                f"new events={[(e.action, e.outcome) for e in new]}"
            )
            if not still_viewing:
                break
    figure("impersonation_read_only_walk", mutating=len(mutating), other_post_routes=len(other))
    for line in mutating:
        print(f"WALKED mutating {line}")
    for line in other:
        print(f"WALKED no change even as the user {line}")
    assert not failures, "\n".join(failures)
    assert len(mutating) >= 30
