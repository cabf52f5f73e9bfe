"""Django admin's user form (the services do the saving)."""

from django import forms

from accounts.models import User


class UserAdminForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("email", "name", "phone", "metadata")
