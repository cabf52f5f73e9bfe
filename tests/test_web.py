"""core.web: the one refusal translation and the one safe "back"."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from core.services import NotFound, PolicyDenied, refusal_text
from core.web import refusals, safe_back


class _Form(forms.Form):
    email = forms.CharField(required=False)
    password = forms.CharField(required=False)


def _request(data=None):
    request = RequestFactory().post("/x/", data or {})
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/users/", "/users/"),
        ("http://testserver/users/?page=2", "http://testserver/users/?page=2"),
        ("//evil.example/", "/fallback/"),
        ("https://evil.example/", "/fallback/"),
        ("/\\evil.example", "/fallback/"),
        ("javascript:alert(1)", "/fallback/"),
        ("account_link", "/fallback/"),  # a bare word: redirect() would reverse it
        ("-1", "/fallback/"),
        ("/a\x00b", "/fallback/"),
        ("", "/fallback/"),
    ],
)
def test_safe_back_only_goes_to_this_site(target, expected):
    assert safe_back(_request({"next": target}), "/fallback/") == expected


def test_safe_back_reads_the_parameter_it_is_given():
    assert safe_back(_request({"back": "/emails/"}), "/f/", param="back") == "/emails/"


def test_a_guard_refusal_on_a_form_is_a_form_error_with_403():
    form = _Form({})
    form.is_valid()
    with refusals(form) as outcome:
        raise PolicyDenied("hierarchy", "You cannot ban this user.")
    assert outcome.status == 403 and not outcome.ok
    assert form.non_field_errors() == ["You cannot ban this user."]


def test_a_refusal_code_named_for_a_field_goes_there_with_400():
    form = _Form({})
    form.is_valid()
    with refusals(form, field_by_code={"reauthentication_failed": "password"}) as outcome:
        raise PolicyDenied("reauthentication_failed", "Wrong password.")
    assert outcome.status == 400
    assert form.errors["password"] == ["Wrong password."]


def test_invalid_input_goes_on_the_field_its_code_names_or_the_star_field():
    form = _Form({})
    form.is_valid()
    with refusals(form, field_by_code={"duplicate_email": "email", "*": "password"}) as outcome:
        raise ValidationError(
            [
                ValidationError("Taken.", code="duplicate_email"),
                ValidationError("Too short.", code="password_too_short"),
            ]
        )
    assert outcome.status == 400
    assert form.errors["email"] == ["Taken."]
    assert form.errors["password"] == ["Too short."]


def test_without_a_form_invalid_input_is_a_message_and_a_refusal_propagates():
    request = _request()
    with refusals(request=request) as outcome:
        raise ValidationError("Already sent.")
    assert outcome.status == 400
    assert [str(m) for m in request._messages] == ["Already sent."]
    # The 403 page is ServiceRefusalMiddleware's answer, not this helper's.
    with pytest.raises(PolicyDenied), refusals(request=request):
        raise PolicyDenied("missing_permission", "No.")
    with pytest.raises(NotFound), refusals(_Form({})):
        raise NotFound("Gone.")


def test_a_call_that_succeeds_is_ok():
    with refusals(_Form({})) as outcome:
        pass
    assert outcome.ok and outcome.status == 200


def test_every_entry_point_words_a_refusal_the_same_way():
    from_params = ValidationError("Deleted more than %(days)d days ago.", params={"days": 30})
    assert refusal_text(from_params) == "Deleted more than 30 days ago."
    assert refusal_text(ValidationError(["One.", "Two."])) == "One. Two."
    assert refusal_text(PolicyDenied("peer", "You cannot act on a peer.")) == (
        "You cannot act on a peer."
    )
    assert refusal_text(NotFound("Gone.")) == "Gone."
