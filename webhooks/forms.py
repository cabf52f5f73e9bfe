from django import forms

from webhooks.catalogue import EVENT_TYPES


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=2000,
        help_text="Where Handover POSTs each event (https in production).",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/handover"}),
    )
    description = forms.CharField(max_length=500, required=False)
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=[(t, t) for t in EVENT_TYPES],
        required=False,
        help_text="None selected: every event.",
        widget=forms.CheckboxSelectMultiple,
    )
