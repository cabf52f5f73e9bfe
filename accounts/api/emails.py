"""`/api/admin/emails/...`: the email outbox (what was sent, queued or
failed; never a body, which may carry a one-time link) and retrying a
failed email -- the outbox page's list and its Retry button."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Q
from django.http import HttpResponse
from ninja import Router, Schema, Status

from accounts.api.common import actor_of, require
from accounts.models import EmailStatus, OutboundEmail
from accounts.services.emails import email_retry
from audit import events
from core.api_errors import ApiError, Limit, check_limit, responses
from core.services import NotFound

router = Router(tags=["emails"])

EMAIL_GONE = "This email does not exist."


class EmailOut(Schema):
    id: uuid.UUID
    to: str
    user_id: uuid.UUID | None
    template: str
    subject: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    possibly_sent_at: datetime | None


def _outbox(request):
    """The outbox within the key's reach: emails to users it may see, and
    emails to no account (an invitation to a new address)."""
    actor = actor_of(request)
    return OutboundEmail.objects.defer("body_text", "body_html").filter(
        Q(user__isnull=True) | Q(user__in=actor.visible_users())
    )


@router.get("", response=responses(200, list[EmailOut]), summary="List the email outbox")
def list_emails(
    request,
    response: HttpResponse,
    status: EmailStatus | None = None,
    q: str = "",
    before: uuid.UUID | None = None,
    limit: Limit = 50,
):
    """Newest first; `q` searches the address and the subject. The next page
    is in the `Link` header (`before` = the last email's id)."""
    require(request, "emails:read", action=events.EMAIL_LISTED)
    check_limit(limit)
    qs = _outbox(request).order_by("-created_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if q.strip():
        text = q.strip()[:254]
        qs = qs.filter(Q(to__icontains=text) | Q(subject__icontains=text))
    if before:
        last = _outbox(request).filter(pk=before).values_list("created_at", flat=True).first()
        if last is None:  # a cursor naming no email (any more): nothing to page from
            raise ApiError(404, "not_found", "before: no such email.")
        qs = qs.filter(Q(created_at__lt=last) | Q(created_at=last, id__lt=before))
    emails = list(qs[: limit + 1])
    if len(emails) > limit:
        emails = emails[:limit]
        params = request.GET.copy()
        params["before"] = str(emails[-1].pk)
        response["Link"] = f'<{request.path}?{params.urlencode()}>; rel="next"'
    return Status(200, emails)


@router.post(
    "/{uuid:email_id}/retry", response=responses(200, EmailOut), summary="Send an email again"
)
def retry_email(request, email_id: uuid.UUID):
    """A failed (or stuck pending) email goes back to the queue with a fresh
    attempt budget. A sent email is never sent twice: 409 `sent`."""
    email = _outbox(request).filter(pk=email_id).first()
    if email is None:
        raise NotFound(EMAIL_GONE)
    email = email_retry(actor=actor_of(request), email=email)
    return Status(200, OutboundEmail.objects.defer("body_text", "body_html").get(pk=email.pk))
