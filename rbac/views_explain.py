""" "Why can this user do P (over Y)?" on a user's access page: the question
from the query string, the answer from `rbac.policies.explain`."""

from __future__ import annotations

from django import forms

from accounts.models import normalize_email
from rbac.permissions import CATALOG
from rbac.policies.explain import Answer, explain


class WhyForm(forms.Form):
    why = forms.ChoiceField(label="Permission", choices=[(c, c) for c in CATALOG])
    over = forms.CharField(label="Over (a user's email, optional)", required=False, max_length=254)


def why_context(request, subject) -> dict:
    """The form and, when asked, the answer (None before any question)."""
    form = WhyForm(request.GET if "why" in request.GET else None)
    answer = None
    if form.is_bound and form.is_valid():
        target = None
        email = form.cleaned_data["over"].strip()
        if email:
            target = (
                request.actor.visible_users()
                .filter(email=normalize_email(email), deleted_at__isnull=True)
                .first()
            )
            if target is None:
                form.add_error("over", "No user with this address is within your reach.")
        if not form.errors:
            answer = explain(request.actor, subject, form.cleaned_data["why"], target)
    elif form.is_bound:
        answer = Answer(False, "Choose a permission from the list.")
    return {"why_form": form, "why_answer": answer}
