"""Signing in: the password step and the code step."""

from django import forms


class LoginForm(forms.Form):
    email = forms.CharField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class MFACodeForm(forms.Form):
    otp_token = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autofocus": True,
                "spellcheck": "false",
                "autocapitalize": "off",
                "class": "form-control form-control-lg text-center code-input",
            }
        ),
    )


# --- users ------------------------------------------------------------------
