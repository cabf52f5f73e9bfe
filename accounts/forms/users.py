"""The users pages: filters, create, edit, the actions on one user, batch,
and what an administrator sends a user (a sign-in link)."""

from datetime import timedelta

from django import forms
from django.utils import timezone

from accounts.selectors import PAGE_SIZES, SORT_CHOICES, UserFilters
from accounts.services.actions import MAGIC_TYPES as declared_magic_types
from accounts.services.actions import batch_actions
from core.widgets import Choices, LongSelect, SuggestInput, WrittenDateInput, WrittenTextInput
from rbac.models import Role
from rbac.permissions import TEMPLATES

STATUS_FILTER_CHOICES = [
    ("", "Not deleted"),
    ("active", "Active"),
    ("invited", "Invited"),
    ("unverified", "Unverified"),
    ("disabled", "Disabled"),
    ("banned", "Banned"),
    ("deleted", "Deleted"),
]
MFA_FILTER_CHOICES = [("", "Any"), ("on", "On"), ("off", "Off")]


def role_choices(*, include_owner: bool = False):

    qs = Role.objects.order_by("name")
    if not include_owner:
        qs = qs.exclude(slug="owner")
    return list(qs.values_list("slug", "name"))


class UserFilterForm(forms.Form):
    """The list's GET parameters. Invalid values are ignored, never a 500.
    Every widget is written in Python (`LongSelect`, `WrittenTextInput`,
    `WrittenDateInput`): on the users list, the busiest page, the options
    were a third of its templates' time, and the two inputs' templates
    0.5 ms of a page (issue 29)."""

    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=WrittenTextInput(
            attrs={"type": "search", "placeholder": "Search name or email", "class": "form-control"}
        ),
    )
    status = forms.ChoiceField(
        required=False,
        choices=STATUS_FILTER_CHOICES,
        widget=LongSelect(),
    )
    role = forms.ChoiceField(required=False, widget=LongSelect())
    # An organization's slug; the choices are the organizations the actor
    # sees (the view passes them), so none is named to someone outside it.
    # One option per organization.
    organization = forms.ChoiceField(required=False, widget=LongSelect())
    mfa = forms.ChoiceField(
        required=False,
        choices=MFA_FILTER_CHOICES,
        label="MFA",
        widget=LongSelect(),
    )
    inactive_before = forms.DateField(
        required=False,
        label="No sign-in since",
        widget=WrittenDateInput(attrs={"type": "date", "class": "form-control"}),
    )
    sort = forms.ChoiceField(required=False, widget=LongSelect())
    size = forms.TypedChoiceField(
        required=False,
        coerce=int,
        label="Per page",
        widget=LongSelect(),
    )
    cursor = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)

    def __init__(self, *args, organizations=(), roles=None, organization_search="", **kwargs):
        """`roles`: `role_choices(include_owner=True)`, when the caller
        read it already. `organization_search`: the URL of the organization
        suggestions, for an actor who sees too many organizations to list
        (`organizations` is then only the one chosen, if any)."""
        super().__init__(*args, **kwargs)
        roles = role_choices(include_owner=True) if roles is None else roles
        self.fields["role"].choices = [("", "Any role"), *roles]
        # Organizations, or (slug, name) pairs (the list reads those).
        pairs = [o if isinstance(o, tuple) else (o.slug, o.name) for o in organizations]
        self.fields["organization"].choices = Choices([("", "Any organization"), *pairs])
        if organization_search:
            self.fields["organization"].widget = SuggestInput(
                organization_search, chosen=pairs, attrs={"placeholder": "Any organization"}
            )
        self.fields["sort"].choices = SORT_CHOICES
        self.fields["size"].choices = [(str(s), f"{s} per page") for s in PAGE_SIZES]

    def filters(self):

        self.is_valid()
        data = {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        return UserFilters(
            q=data.get("q") or "",
            status=data.get("status") or "",
            role=data.get("role") or "",
            organization=data.get("organization") or "",
            mfa=data.get("mfa") or "",
            inactive_before=data.get("inactive_before"),
            sort=data.get("sort") or "",
            size=data.get("size") or 0,
        )

    @property
    def cursor_value(self) -> str:
        return (self.cleaned_data or {}).get("cursor", "") if hasattr(self, "cleaned_data") else ""


class UserCreateForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    roles = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
    )
    template = forms.ChoiceField(
        required=False,
        label="Permission template",
        help_text="Grants the template's permissions directly, besides any role.",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    mode = forms.ChoiceField(
        label="How will they sign in?",
        choices=[
            ("invite", "Send an invitation (they choose a password)"),
            ("password", "Set a password now"),
        ],
        initial="invite",
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    password = forms.CharField(
        required=False,
        strip=False,
        help_text="Only when setting a password now.",
        max_length=1024,
        # Shown only while "Set a password now" is chosen (static/js/handover.js).
        widget=forms.PasswordInput(
            attrs={
                "class": "form-control",
                "autocomplete": "new-password",
                "data-show-for": "mode=password",
            }
        ),
    )
    auto_confirm = forms.BooleanField(
        required=False,
        label="Mark the email address as verified",
        help_text="Only when you know the address belongs to this person.",
    )

    def __init__(self, *args, **kwargs):

        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = role_choices()
        self.fields["password"].conditional = True  # needed with "Set a password now"
        self.fields["template"].choices = [("", "No template")] + [
            (k, v["name"]) for k, v in TEMPLATES.items()
        ]

    def clean(self):
        data = super().clean()
        if data.get("mode") == "password" and not data.get("password"):
            self.add_error("password", "Enter a password, or choose to send an invitation.")
        return data


class UserEditForm(forms.Form):
    name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    email = forms.EmailField(
        max_length=254,
        help_text="Changing it marks the address unverified and notifies the old one.",
        widget=forms.EmailInput(attrs={"class": "form-control"}),
    )
    phone = forms.CharField(
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control", "type": "tel"}),
    )
    metadata = forms.CharField(
        required=False,
        max_length=20000,
        help_text="A JSON object, at most 8 KB.",
        widget=forms.Textarea(attrs={"class": "form-control font-monospace", "rows": 6}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=500,
        help_text="Written to the audit log.",
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 2}),
    )

    def service_kwargs(self) -> dict:
        """The cleaned input as the action service's keyword arguments."""
        return {"reason": self.cleaned_data["reason"]}


BAN_DURATIONS = [
    ("permanent", "Permanently"),
    ("hours", "For a number of hours"),
    ("days", "For a number of days"),
    ("until", "Until a date"),
]


def ban_until(form, data):
    """When the ban chosen in `form` (duration, amount, until) ends: None
    for permanently; errors are added to the form's fields."""
    duration = data.get("duration")
    if duration in ("hours", "days"):
        if not data.get("amount"):
            form.add_error("amount", "Enter how many hours or days.")
            return None
        return timezone.now() + timedelta(**{duration: data["amount"]})
    if duration == "until":
        until = data.get("until")
        if not until:
            form.add_error("until", "Choose when the ban ends.")
        elif until <= timezone.now():
            form.add_error("until", "The ban must end in the future.")
        else:
            return until
    return None


class BanForm(ReasonForm):
    duration = forms.ChoiceField(
        choices=BAN_DURATIONS,
        initial="permanent",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    # `data-show-for`: the page shows each field only for the durations that
    # use it (static/js/handover.js); without JavaScript all are shown.
    amount = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100000,
        label="Hours or days",
        widget=forms.NumberInput(
            attrs={
                "class": "form-control",
                "data-show-for": "duration=hours days",
                "data-label-hours": "Number of hours",
                "data-label-days": "Number of days",
            }
        ),
    )
    until = forms.DateTimeField(
        required=False,
        label="Banned until",
        widget=forms.DateTimeInput(
            attrs={
                "type": "datetime-local",
                "class": "form-control",
                "data-show-for": "duration=until",
            }
        ),
    )
    field_order = ["duration", "amount", "until", "reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Required for the durations that show them; not "(optional)".
        self.fields["amount"].conditional = True
        self.fields["until"].conditional = True

    def clean(self):
        data = super().clean()
        data["ban_until"] = ban_until(self, data)
        return data

    def service_kwargs(self) -> dict:
        return {"until": self.cleaned_data["ban_until"], "reason": self.cleaned_data["reason"]}


class AnyChoicesField(forms.MultipleChoiceField):
    """Accepts any strings: the batch service reports bad ids per item."""

    def valid_value(self, value) -> bool:
        return True


# The list's filters travel in a batch form under this prefix ("filter-role"),
# so no batch parameter (the role to assign, the reason, ...) can ever be read
# as a filter, whatever either is called.
BATCH_FILTER_PREFIX = "filter"


class BatchForm(forms.Form):
    action = forms.ChoiceField(widget=forms.Select(attrs={"class": "form-select"}))
    ids = AnyChoicesField(required=False)
    all_matching = forms.BooleanField(required=False)
    # "All matching": the digest of the users the preview showed; running
    # the batch checks the filter still matches exactly them.
    selection = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    role = forms.ChoiceField(required=False, widget=forms.Select(attrs={"class": "form-select"}))
    reason = forms.CharField(
        required=False, max_length=500, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    execute = forms.BooleanField(required=False)

    def __init__(self, *args, roles=None, **kwargs):
        """`roles`: `role_choices()`, when the caller read it already."""
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Action…")] + [
            (k, v.label) for k, v in batch_actions().items()
        ]
        self.fields["role"].choices = [("", "Role…")] + (
            role_choices() if roles is None else list(roles)
        )

    def clean(self):
        data = super().clean()
        if not data.get("ids") and not data.get("all_matching"):
            raise forms.ValidationError("Select at least one user.")
        return data


# --- the account page ---------------------------------------------------------------


# The link types, as the declaration of the magic-link action names them.
MAGIC_TYPES = list(declared_magic_types)


class MagicLinkForm(forms.Form):
    type = forms.ChoiceField(choices=MAGIC_TYPES, initial="recovery")
