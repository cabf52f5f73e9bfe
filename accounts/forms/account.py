"""What people do for themselves: their account page (profile, password,
email, second factor, re-authentication) and the public pages (forgot
password, a new password, a sign-in link)."""

from django import forms


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=150, required=False)
    phone = forms.CharField(max_length=32, required=False, label="Phone")


class OwnPasswordForm(forms.Form):
    """Changing your own password on the account page (not Django's
    PasswordChangeForm: the account service checks and changes it)."""

    current_password = forms.CharField(
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters, not a common password.",
    )
    new_password_again = forms.CharField(
        strip=False,
        max_length=1024,
        label="New password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", "The two new passwords differ.")
        return data


class EmailChangeForm(forms.Form):
    new_email = forms.EmailField(
        label="New email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
        help_text="We send a link to the new address to verify it, and tell the old one.",
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from the app",
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "spellcheck": "false",
            }
        ),
    )


class ReauthForm(forms.Form):
    password = forms.CharField(
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    code = forms.CharField(
        label="Code from your authenticator app (or a recovery code)",
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false"}),
    )


class ForgotForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(
            attrs={"autocomplete": "email", "autofocus": True, "class": "form-control"}
        ),
    )


class NewPasswordForm(forms.Form):
    password1 = forms.CharField(
        label="New password",
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "class": "form-control"}),
        help_text="At least 12 characters; not a common password, not all digits, "
        "not close to your name or email.",
    )
    password2 = forms.CharField(
        label="Repeat the password",
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "class": "form-control"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") != data.get("password1"):
            self.add_error("password2", "The two passwords do not match.")
        return data


class MagicForm(forms.Form):
    pass
