"""Inviting people, one or many."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.forms.account import NewPasswordForm
from accounts.services import invitation_import as import_services
from rbac.models import Role
from rbac.permissions import TEMPLATES


class InviteForm(forms.Form):
    emails = forms.CharField(
        label="Email addresses",
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "class": "form-control",
                "placeholder": "ana@example.com, ben@example.com",
            }
        ),
        help_text="One or many, separated by commas, spaces or new lines.",
    )
    csv_file = forms.FileField(
        label="Or a CSV file",
        required=False,
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": ".csv,text/csv"}),
        help_text="Columns: email, name, roles (role slugs separated by ;). "
        "Empty roles use the roles below.",
    )
    roles = forms.MultipleChoiceField(
        label="Roles",
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    template = forms.ChoiceField(label="Permission template", required=False)
    expires_days = forms.IntegerField(
        label="Link valid for (days)",
        min_value=1,
        max_value=60,
        initial=7,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = [
            (r.slug, r.name) for r in Role.objects.exclude(slug="owner").order_by("name")
        ]
        self.fields["template"].choices = [("", "None")] + [
            (key, t["name"]) for key, t in TEMPLATES.items()
        ]
        self.fields["template"].widget.attrs["class"] = "form-select"
        self.fields["expires_days"].initial = settings.INVITATION_TTL.days

    def clean(self):
        data = super().clean()
        upload = data.get("csv_file")
        if not (data.get("emails") or "").strip() and not upload:
            raise ValidationError("Enter at least one email address or choose a CSV file.")
        if upload and upload.size > 1024 * 1024:
            self.add_error("csv_file", "The file is larger than 1 MB.")
        return data

    def rows(self) -> list[import_services.ImportRow]:
        data = self.cleaned_data
        roles = data.get("roles") or []
        rows = import_services.invitation_rows_from_text(data.get("emails") or "", roles=roles)
        upload = data.get("csv_file")
        if upload:
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError("The CSV file must be UTF-8 text.") from None
            rows += import_services.invitation_rows_from_csv(text, roles=roles)
        if len(rows) > settings.INVITATION_IMPORT_MAX:
            raise ValidationError(
                f"At most {settings.INVITATION_IMPORT_MAX} addresses at once "
                f"({len(rows)} given); split the list."
            )
        return rows


class AcceptForm(NewPasswordForm):
    """Accepting an invitation: your name, a password, MFA now or later."""

    name = forms.CharField(
        label="Your name",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "name", "class": "form-control"}),
    )
    setup_mfa = forms.BooleanField(
        label="Set up two-factor authentication now",
        required=False,
        help_text="Sign-in will also ask for a code from an app on your phone.",
    )
    field_order = ["name", "password1", "password2", "setup_mfa"]


class JoinForm(forms.Form):
    """Joining an organization with an account you already have: your
    password again, so a borrowed session cannot say yes for you."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "current-password", "class": "form-control"}
        ),
    )
