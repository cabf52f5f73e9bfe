"""The form of an action on a user, made from its declaration's parameters
(`accounts.services.actions`): the user page's confirmation and Django
admin's intermediate page ask for exactly what the service takes."""

from __future__ import annotations

import copy

from django import forms
from django.core.exceptions import ValidationError

from accounts.forms.users import BanForm, ban_until, role_choices
from accounts.services import actions as declared


def _field(param) -> forms.Field:
    label = param.label or param.name.replace("_", " ").capitalize()
    if param.kind == declared.ROLE:
        return forms.ChoiceField(
            label=label,
            choices=[("", "Role…"), *role_choices()],
            widget=forms.Select(attrs={"class": "form-select"}),
        )
    if param.kind == declared.CHOICE:
        return forms.ChoiceField(
            label=label,
            choices=param.choices,
            initial=param.default,
            widget=forms.Select(attrs={"class": "form-select"}),
        )
    if param.kind == declared.FLAG:
        return forms.BooleanField(
            label=label,
            required=False,
            initial=param.default,
            widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
        )
    if param.kind == declared.CONFIRM_EMAIL:
        widget = forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"})
    else:
        widget = forms.Textarea(attrs={"class": "form-control", "rows": 2})
    return forms.CharField(
        label=label,
        required=param.required,
        max_length=param.max_length,
        help_text=param.help,
        widget=widget,
    )


class ActionForm(forms.Form):
    """`ActionForm(declaration, data)`: one field per parameter (a ban's
    end as the page's duration, amount and until); `ask_password` adds the
    current password (Django admin's proof for an irreversible action)."""

    def __init__(self, action, *args, ask_password: bool = False, per_user=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.action = action
        self.per_user = per_user
        self.cleaned_params: dict = {}
        for param in self._params():
            if param.kind == declared.BAN_END:
                for name in ("duration", "amount", "until"):
                    self.fields[name] = copy.deepcopy(BanForm.base_fields[name])
                    if name != "duration":
                        self.fields[name].conditional = True
            else:
                self.fields[param.name] = _field(param)
        if ask_password:
            self.fields["current_password"] = forms.CharField(
                label="Your current password",
                max_length=1024,
                strip=False,
                widget=forms.PasswordInput(
                    attrs={"class": "form-control", "autocomplete": "current-password"}
                ),
            )

    def _params(self):
        """The parameters asked here: a batch (`per_user=False`) fills in
        those it takes from each user."""
        return [p for p in self.action.params if self.per_user or not p.per_user]

    def clean(self):
        data = super().clean()
        values = {}
        for param in self._params():
            if param.kind == declared.BAN_END:
                values[param.name] = ban_until(self, data)
            else:
                values[param.name] = data.get(param.name)
        if not self.errors:
            try:
                self.cleaned_params = self.action.clean(values, batch=not self.per_user)
            except ValidationError as exc:
                self.add_error(None, exc)
        return data

    def service_kwargs(self) -> dict:
        """The cleaned input as the action service's keyword arguments."""
        return self.action.load(self.cleaned_params)
