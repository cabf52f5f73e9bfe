"""Saved views (issue 27): name the filters and sort of the users list or
the audit log, find them again in the sidebar and the command palette,
share them with the team, rename and delete your own.

Opening a view redirects to its list with the stored query string, so the
list itself re-applies it through the viewer's reach
(`actor.visible_users()` / `visible_events()`): a shared view shows each
person only what they may see."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts.forms import NewSavedViewForm, SavedViewForm
from accounts.selectors.saved_views import (
    VIEW_KEYS,
    saved_view_get,
    saved_views_for,
    view_query,
    view_url,
)
from accounts.services import saved_views as services
from core.services import NotFound
from core.web import confirm_page, htmx_partial, refusals
from rbac import policies
from rbac.decorators import signed_in
from rbac.policies.saved_views import SHARE_PERMISSION

app_name = "saved_views"

SIDEBAR_LIMIT = 12
FIELD_BY_CODE = {
    "duplicate_name": "name",
    "name_required": "name",
    "name_too_long": "name",
    "permission_denied": "shared",
}


def _own(request, pk):
    """A view of the actor's own: someone else's, shared or not, is not
    theirs to change (404, as a view they cannot see)."""
    view = saved_view_get(pk, actor=request.actor)
    if view.owner_id != request.actor.pk:
        raise NotFound("This saved view is not yours to change.")
    return view


@signed_in
@require_GET
def saved_view_list(request):
    views = saved_views_for(request.actor)
    me = request.actor.pk
    return render(
        request,
        "saved_views/list.html",
        {
            "mine": [v for v in views if v.owner_id == me],
            "shared": [v for v in views if v.owner_id != me],
        },
    )


@signed_in
@require_GET
def saved_view_sidebar(request):
    """The sidebar's list (an htmx fragment loaded after the page, so no
    page pays a query for it)."""
    return render(
        request,
        "saved_views/_sidebar.html",
        {"views": saved_views_for(request.actor, limit=SIDEBAR_LIMIT)},
    )


@signed_in
@require_http_methods(["GET", "POST"])
def saved_view_new(request):
    """Save the list's current filters and sort (the query string the list
    gave the Save button) under a name."""
    if request.method == "POST":
        form = NewSavedViewForm(request.POST)
    else:
        page = request.GET.get("page", "")
        page = page if page in VIEW_KEYS else "users"
        form = NewSavedViewForm(
            initial={"page": page, "query": view_query(page, request.GET.urlencode())}
        )
    may_share = policies.user_has(request.actor, SHARE_PERMISSION)
    if not may_share:
        del form.fields["shared"]
    status = 400 if form.errors else 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with refusals(form, field_by_code=FIELD_BY_CODE) as outcome:
            view = services.saved_view_create(
                actor=request.actor,
                page=data["page"],
                name=data["name"],
                query=data["query"],
                shared=bool(data.get("shared")),
            )
        if outcome.ok:
            messages.success(request, f"Saved the view “{view.name}”.")
            if htmx_partial(request):
                return HttpResponseClientRedirect(view_url(view))
            return redirect(view_url(view))
        status = outcome.status
    query = request.POST.get("query", "") if request.method == "POST" else form.initial["query"]
    context = {"form": form, "may_share": may_share, "query": query}
    if htmx_partial(request):
        name = "form" if request.method == "POST" else "dialog"
        return render(request, f"saved_views/new.html#{name}", context)
    return render(request, "saved_views/new.html", context, status=status)


@signed_in
@require_GET
def saved_view_open(request, pk):
    return redirect(view_url(saved_view_get(pk, actor=request.actor)))


@signed_in
@require_http_methods(["GET", "POST"])
def saved_view_edit(request, pk):
    view = _own(request, pk)
    form = SavedViewForm(request.POST or None, initial={"name": view.name, "shared": view.shared})
    may_share = view.shared or policies.user_has(request.actor, SHARE_PERMISSION)
    if not may_share:
        del form.fields["shared"]
    status = 400 if form.errors else 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with refusals(form, field_by_code=FIELD_BY_CODE) as outcome:
            services.saved_view_update(
                actor=request.actor,
                view=view,
                name=data["name"],
                shared=bool(data.get("shared")) if may_share else view.shared,
            )
        if outcome.ok:
            messages.success(request, "View saved.")
            return redirect("saved_views:list")
        status = outcome.status
    return render(request, "saved_views/edit.html", {"form": form, "view": view}, status=status)


@signed_in
@require_http_methods(["GET", "POST"])
def saved_view_delete(request, pk):
    view = _own(request, pk)
    if request.method == "GET":
        return confirm_page(
            request,
            title="Delete saved view",
            message=f"Delete the view “{view.name}”? The people and events it shows stay "
            "as they are; only the name and its filters go"
            + (", for everyone it is shared with." if view.shared else "."),
            button="Delete view",
            cancel_url=reverse("saved_views:list"),
        )
    with refusals(request=request) as outcome:
        services.saved_view_delete(actor=request.actor, view=view)
    if outcome.ok:
        messages.success(request, f"Deleted the view “{view.name}”.")
    return redirect("saved_views:list")


urlpatterns = [
    path("", saved_view_list, name="list"),
    path("sidebar/", saved_view_sidebar, name="sidebar"),
    path("new/", saved_view_new, name="new"),
    path("<uuid:pk>/", saved_view_open, name="open"),
    path("<uuid:pk>/edit/", saved_view_edit, name="edit"),
    path("<uuid:pk>/delete/", saved_view_delete, name="delete"),
]
