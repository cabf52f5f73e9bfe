"""Saving, renaming and sharing a view of a list (issue 27)."""

from __future__ import annotations

from django import forms

from accounts.models import SavedViewPage


class SavedViewForm(forms.Form):
    name = forms.CharField(
        max_length=80,
        label="Name",
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    shared = forms.BooleanField(
        required=False,
        label="Share with the team",
        help_text="Everyone who may read this list finds it too; each sees only "
        "the people and events they may see.",
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class NewSavedViewForm(SavedViewForm):
    page = forms.ChoiceField(choices=SavedViewPage.choices, widget=forms.HiddenInput)
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
