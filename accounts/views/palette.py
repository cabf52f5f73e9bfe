"""The command palette (Ctrl+K on every page): find a user and act on
them, open a saved view, jump to a page. One fragment, searched as one
types; everything in it is what the actor may open or do:

- users through the list's own filter (`selectors.user_list`, within the
  actor's reach);
- on the first few users, the actions their page offers, each asked of its
  own guard (`policies.allows`), leading to that page's own dialog or form;
- saved views the actor may open (`saved_views_for`);
- pages from the permission-filtered catalogue (`core.navigation`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from accounts import selectors
from accounts.selectors.saved_views import saved_views_for
from accounts.views.user_actions import offered
from audit import events
from core.navigation import MORE_PAGES, NAVIGATION, pages_for
from rbac import policies
from rbac.decorators import signed_in

app_name = "palette"

USER_LIMIT = 6
ACTION_USERS = 3  # the actions of the first few users found
VIEW_LIMIT = 6
Q_MAX = 100


@dataclass(frozen=True)
class Command:
    label: str
    url: str
    hint: str = ""


def _matches(q: str, *texts: str) -> bool:
    words = " ".join(texts).lower()
    return all(part in words for part in q.lower().split())


def user_commands(actor, user, offers) -> list[Command]:
    """What the palette offers to do to `user`: the actions their page
    offers (`offers`, from `user_actions.offered`: the state rule and the
    action's own guard), but not those that ask for the password again on
    their own page (erasure); each opens the user page with its dialog (the
    page's own button, clicked by handover.js). Resetting a password and
    assigning a role lead to the page's sections for them, asked of their
    guards too."""
    page = reverse("users:detail", args=[user.pk])
    commands = [
        Command(f"{o.button}…", f"{page}#action-{o.name}") for o in offers if not o.action.reauth
    ]
    if user.status != "deleted" and policies.allows(
        policies.check_can_reset_password, actor, user, action=events.PASSWORD_SET_BY_ADMIN
    ):
        commands.append(Command("Reset password…", f"{page}#section-credentials"))
    may_assign = policies.user_has(actor, "roles:assign") and policies.user_has(actor, "roles:read")
    if may_assign and not policies.access_change_denial(actor, user, "roles:assign", what="roles"):
        commands.append(
            Command("Assign role…", reverse("roles:user_access", kwargs={"user_id": user.pk}))
        )
    return commands


@signed_in
@require_GET
def palette_search(request):
    actor = request.actor
    q = " ".join(request.GET.get("q", "").split())[:Q_MAX]
    users = []
    if q and policies.user_has(actor, "users:read"):
        found = selectors.user_list(selectors.UserFilters(q=q), actor=actor).users[:USER_LIMIT]
        acted_on = found[:ACTION_USERS]
        offers = offered(actor, acted_on) if acted_on else {}
        for user in found:
            commands = user_commands(actor, user, offers[user.pk]) if user.pk in offers else []
            users.append((user, reverse("users:detail", args=[user.pk]), commands))
    views = saved_views_for(actor, q=q, limit=VIEW_LIMIT)
    pages = [
        (page, url)
        for page, url in pages_for(actor.permissions, NAVIGATION + MORE_PAGES)
        if not q or _matches(q, page.label, page.words)
    ]
    return render(
        request,
        "palette/results.html",
        {"q": q, "users": users, "views": views, "pages": pages},
    )


urlpatterns = [path("", palette_search, name="search")]
