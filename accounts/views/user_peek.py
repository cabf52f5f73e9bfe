"""A side panel to peek at a user from the users list without leaving it
(issue 27): an htmx fragment in the page's dialog root, reach-checked as
the user page is (outside the actor's reach the user does not exist: 404).
Without JavaScript the row's link opens the user page itself."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts import selectors
from core.web import htmx_partial
from rbac.decorators import permission_required


@permission_required("users:read")
@require_GET
def user_peek(request, pk):
    subject = selectors.user_get(pk, actor=request.actor)
    if not htmx_partial(request):
        return redirect("users:detail", pk=subject.pk)
    context = {
        "subject": subject,
        "roles": sorted({r.name for r in subject.roles.all()}),
        "organizations": list(
            request.actor.visible_organizations()
            .filter(membership__user=subject)
            .order_by("name")
            .values_list("name", flat=True)
        ),
        "lock": selectors.user_lock(subject),
    }
    return render(request, "users/peek.html", context)
