"""One mailbox, one account, through the API (issue 23): the full-width
and look-alike addresses are refused with the API's error shape."""

from __future__ import annotations

import pytest

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

USERS_API = "/api/admin/users"


def test_a_full_width_letter_is_the_same_address_in_the_api(call, key_for, owner):
    make_user("dup@t.test")
    status, body, _ = call("post", USERS_API, key_for(owner), {"email": "dup@t.t\uff45st"})
    assert status == 409
    assert body == {"error": "duplicate_email", "detail": "A user with this email already exists."}


def test_a_look_alike_typed_in_its_encoded_form_is_refused_too(call, key_for, owner):
    status, body, _ = call("post", USERS_API, key_for(owner), {"email": "ann@xn--pple-43d.com"})
    assert status == 400
    assert body["error"] == "mixed_script"
