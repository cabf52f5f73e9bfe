"""Creating an API key."""

from django import forms
from django.core.exceptions import ValidationError

from rbac.permissions import CATALOG, TEMPLATES

EXPIRY_CHOICES = [("", "Never"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")]


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses this key, e.g. “billing sync”.")
    template = forms.ChoiceField(
        required=False,
        choices=[("", "— choose permissions below —")]
        + [(k, v["name"]) for k, v in TEMPLATES.items()],
        help_text="Prefills the key's permissions; you can add more below.",
    )
    permissions = forms.MultipleChoiceField(
        required=False, choices=[(c, c) for c in CATALOG], widget=forms.CheckboxSelectMultiple
    )
    expires_in_days = forms.TypedChoiceField(
        required=False, choices=EXPIRY_CHOICES, coerce=int, empty_value=None, label="Expires"
    )

    def clean(self):
        data = super().clean()
        if not data.get("template") and not data.get("permissions"):
            raise ValidationError("Choose a template or at least one permission.")
        return data
