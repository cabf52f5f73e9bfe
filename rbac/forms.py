"""Forms for roles, a user's access and ownership transfer. They parse
input; the services decide (and guard) what happens."""

from __future__ import annotations

from django import forms
from django.utils.text import slugify

from accounts.models import User, status_q
from rbac import policies
from rbac.models import Role
from rbac.permissions import CATALOG, grouped, is_scopable

NOT_HELD_REASON = "You do not hold this permission, so you cannot grant or remove it."


def permission_rows(actor, selected) -> list[dict]:
    """The catalog grouped for checkboxes: each permission with whether it
    is selected and, when the actor cannot change it, why."""
    held = policies.permissions_of(actor)
    selected = set(selected or [])
    rows = []
    for group, label, perms in grouped():
        rows.append(
            {
                "group": group,
                "label": label,
                "permissions": [
                    {
                        "code": p.code,
                        "description": p.description,
                        "checked": p.code in selected,
                        "disabled": p.code not in held,
                        "reason": NOT_HELD_REASON if p.code not in held else "",
                        # Left out when the role is held in an organization.
                        "global_only": not is_scopable(p.code),
                    }
                    for p in perms
                ],
            }
        )
    return rows


class PermissionsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("choices", [(code, code) for code in CATALOG])
        super().__init__(**kwargs)

    def valid_value(self, value):
        # Unknown strings are rejected by the service with the catalog's
        # message ("Unknown permission: ..."), not Django's generic one.
        return True


def keep_locked(actor, submitted, current) -> list[str]:
    """Disabled checkboxes are not submitted: permissions the actor cannot
    change keep their current state. Anything else submitted is passed on
    as is, so the service refuses a forged one with the escalation error."""
    held = policies.permissions_of(actor)
    submitted, current = {str(p) for p in submitted}, set(current)
    return sorted(submitted | (current - held))


class RoleForm(forms.Form):
    slug = forms.CharField(
        max_length=50,
        required=False,
        help_text="Used in the API and URLs; lowercase letters, digits and hyphens. "
        "Left empty, it is made from the name.",
        widget=forms.TextInput(attrs={"data-slug-from": "name"}),
    )
    name = forms.CharField(max_length=100)
    description = forms.CharField(
        required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    permissions = PermissionsField()
    updated_at = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, role: Role | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.role = role
        if role is not None:
            del self.fields["slug"]
        for field in self.fields.values():
            if not isinstance(field.widget, forms.CheckboxSelectMultiple | forms.HiddenInput):
                field.widget.attrs.setdefault("class", "form-control")

    def clean(self):
        """A new role's slug, when left empty, comes from its own name
        ("Support desk" -> support-desk), made unique with a number
        (support-desk-2) so a second role of the same name does not clash."""
        data = super().clean()
        if self.role is not None or "slug" not in self.fields or data.get("slug"):
            return data
        base = slugify(data.get("name", ""))[:45]
        if not base:
            self.add_error("slug", "Enter a slug: the name has no letters or digits to make one.")
            return data
        taken = set(Role.objects.filter(slug__startswith=base).values_list("slug", flat=True))
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        data["slug"] = slug
        return data


class AssignRoleForm(forms.Form):
    role = forms.ModelChoiceField(
        queryset=Role.objects.exclude(slug="owner"),
        to_field_name="slug",
        empty_label="Choose a role",
        error_messages={"invalid_choice": "This role does not exist (it may have been deleted)."},
        widget=forms.Select(attrs={"class": "form-select"}),
    )


class DirectPermissionsForm(forms.Form):
    permissions = PermissionsField()


class OwnershipTransferForm(forms.Form):
    target = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="New owner",
        empty_label="Choose an active user",
        error_messages={"invalid_choice": "Choose an existing active user."},
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    password = forms.CharField(
        label="Your password",
        strip=False,
        max_length=1024,
        help_text="Re-enter your password to confirm.",
        widget=forms.PasswordInput(
            attrs={"class": "form-control", "autocomplete": "current-password"}
        ),
    )

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = (
            actor.visible_users(User.objects.filter(status_q("active")))
            .exclude(pk=actor.pk)
            .order_by("email")
        )
        self.fields["target"].label_from_instance = lambda u: (
            f"{u.name} <{u.email}>" if u.name else u.email
        )


class RoleAdminForm(forms.ModelForm):
    permissions = forms.MultipleChoiceField(
        choices=[(code, f"{code} — {p.description}") for code, p in CATALOG.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Role
        fields = ["slug", "name", "description", "permissions"]
