"""The audit log's filter form."""

from __future__ import annotations

from django import forms

from audit.models import Outcome
from audit.selectors import action_choices
from core.widgets import (
    Choices,
    LongSelect,
    SuggestInput,
    WrittenDateInput,
    WrittenHiddenInput,
    WrittenTextInput,
)


class ActionField(forms.CharField):
    """A select whose options come from the log, accepting any well-formed
    action code or group so links from other pages always work. Written
    in Python (`LongSelect`): a few dozen codes in groups."""

    widget = LongSelect

    def validate(self, value):
        super().validate(value)
        if value and (len(value) > 100 or not all(c.isalnum() or c in "._-*" for c in value)):
            raise forms.ValidationError("Choose an action from the list.")


class AuditFilterForm(forms.Form):
    # Inputs written in Python (core.widgets): ten fields on every page.
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        help_text="Actor, target or reason.",
        widget=WrittenTextInput,
    )
    actor = forms.CharField(required=False, max_length=254, label="Actor", widget=WrittenTextInput)
    target = forms.CharField(
        required=False, max_length=254, label="Target", widget=WrittenTextInput
    )
    user = forms.UUIDField(required=False, widget=WrittenHiddenInput)
    action = ActionField(required=False, label="Action")
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any outcome"), *Outcome.choices], label="Outcome"
    )
    date_from = forms.DateField(
        required=False, label="From", widget=WrittenDateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=WrittenDateInput(attrs={"type": "date"})
    )
    batch = forms.UUIDField(required=False, label="Batch id", widget=WrittenTextInput)
    ip = forms.GenericIPAddressField(
        required=False, label="IP address", unpack_ipv4=True, widget=WrittenTextInput
    )
    # An organization's slug, among those the actor sees: the events that
    # happened in it (an account-wide event belongs to none).
    # Written in Python (`LongSelect`): one option per organization.
    organization = forms.ChoiceField(
        required=False,
        widget=LongSelect,
        label="Organization",
        help_text="Events in this organization: its members, the roles held there, "
        "its invitations.",
    )

    def __init__(self, *args, organizations=(), organization_search="", **kwargs):
        """`organizations`: (slug, name) pairs, those the actor sees.
        `organization_search`: the URL of the organization suggestions, for
        an actor who sees too many organizations to list (`organizations`
        is then only the one chosen, if any)."""
        super().__init__(*args, **kwargs)
        self.fields["action"].widget.choices = action_choices()
        # Handed over ready (`Choices`): a plain list is normalized pair by
        # pair, twice -- at 1,000 organizations most of the page's time.
        self.fields["organization"].choices = Choices(
            [
                ("", "Any organization"),
                *organizations,  # (slug, name) pairs, as the view reads them
            ]
        )
        if organization_search:
            self.fields["organization"].widget = SuggestInput(
                organization_search,
                chosen=list(organizations),
                attrs={"placeholder": "Any organization"},
            )
        for name, field in self.fields.items():
            css = (
                "form-select form-select-sm"
                if name in ("action", "outcome")
                or (name == "organization" and not organization_search)
                else "form-control form-control-sm"
            )
            field.widget.attrs.setdefault("class", css)

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data
