"""One mailbox, one account (issue 23): an address is compared in its
NFKC form with the domain IDNA-encoded, so a full-width letter does not
make a second account for the same mailbox; a domain that mixes alphabets
the way look-alikes do is refused with a field error; what people see
shows the domain as typed and, where it differs, its encoded form."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User, email_for_people, normalize_email
from accounts.services.validation import mixed_scripts, validate_email_address
from tests.conftest import STRONG_PASSWORD, make_user

pytestmark = pytest.mark.django_db

FULL_WIDTH = "dup@t.t\uff45st"  # a full-width "ｅ"
CYRILLIC = "dup@t.t\u0435st"  # a Cyrillic "е"


@pytest.fixture
def dup(owner):
    return make_user("dup@t.test")


def _create_on_the_page(client, email: str):
    return client.post(
        reverse("users:create"),
        {"email": email, "mode": "password", "password": STRONG_PASSWORD},
    )


def test_a_full_width_letter_is_the_same_address_on_the_page(client_for, admin_user, dup):
    response = _create_on_the_page(client_for(admin_user), FULL_WIDTH)
    assert response.status_code == 400
    assert "A user with this email already exists." in response.content.decode()
    assert User.objects.filter(email__startswith="dup@").count() == 1


def test_a_cyrillic_look_alike_domain_is_refused_as_mixed_script(client_for, admin_user, dup):
    response = _create_on_the_page(client_for(admin_user), CYRILLIC)
    assert response.status_code == 400
    page = response.content.decode()
    assert "mixes alphabets (Cyrillic and Latin)" in page
    assert response.context["form"].errors["email"][0].startswith("The domain of dup@t.tеst")
    assert "t.xn--tst-rdd" in page  # the encoded form, so the trick shows
    assert User.objects.filter(email__startswith="dup@").count() == 1


def test_changing_your_own_address_to_a_look_alike_is_refused(alice):
    client = Client()
    client.post("/login/", {"email": alice.email, "password": STRONG_PASSWORD})
    response = client.post("/account/email/", {"new_email": "alice@ex\u0430mple.com"})
    assert response.status_code == 400
    assert "mixes alphabets" in response.content.decode()
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"


def test_an_international_domain_is_stored_encoded_and_shown_as_typed(
    client_for, admin_user, owner
):
    response = _create_on_the_page(client_for(admin_user), "Ann@B\u00fccher.example")
    assert response.status_code == 302
    user = User.objects.get(email="ann@xn--bcher-kva.example")
    listing = client_for(admin_user).get(reverse("users:list")).content.decode()
    listing = listing.replace("<wbr>", "")
    assert "ann@bücher.example (xn--bcher-kva.example)" in listing
    detail = client_for(admin_user).get(f"/users/{user.pk}/").content.decode()
    detail = detail.replace("<wbr>", "")
    assert "ann@bücher.example (xn--bcher-kva.example)" in detail
    # Signing in works with the address as typed.
    browser = Client()
    browser.post("/login/", {"email": "ann@bücher.example", "password": STRONG_PASSWORD})
    assert browser.session.get("_auth_user_id") == str(user.pk)


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("Dup@T.Test", "dup@t.test"),
        (FULL_WIDTH, "dup@t.test"),
        ("\uff44up@t.test", "dup@t.test"),  # a full-width "ｄ" in the local part
        ("ann@b\u00fccher.example", "ann@xn--bcher-kva.example"),
        ("ann@B\u00dcCHER.example", "ann@xn--bcher-kva.example"),
        ("x@\u043f\u0440\u0438\u043c\u0435\u0440.com", "x@xn--e1afmkfd.com"),
    ],
)
def test_addresses_are_compared_in_one_form(typed, stored):
    assert normalize_email(typed) == stored


@pytest.mark.parametrize(
    "domain",
    [
        "пример.com",
        "bücher.example",
        "日本語ひらがな.jp",
        "한국abc.kr",
        "t.test",
        "xn--e1afmkfd.com",
    ],
)
def test_one_script_per_label_is_fine(domain):
    assert mixed_scripts(normalize_email(f"a@{domain}").rpartition("@")[2]) == []


def test_people_see_the_domain_as_typed_and_encoded():
    assert email_for_people("ann@xn--bcher-kva.example") == (
        "ann@bücher.example (xn--bcher-kva.example)"
    )
    assert email_for_people("ann@example.com") == "ann@example.com"


addresses = st.one_of(
    st.emails(),
    st.builds(
        lambda local, domain: f"{local}@{domain}",
        st.text(max_size=40),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(addresses)
def test_any_address_is_accepted_or_refused_with_words_never_an_error(email):
    try:
        stored = validate_email_address(email, unique=False)
    except ValidationError as exc:
        assert exc.messages and all(exc.messages)
        return
    # What is stored is already in its one form, with a domain mail can reach.
    assert normalize_email(stored) == stored
    assert stored.rpartition("@")[2].isascii()
    email_for_people(stored)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(email=addresses)
def test_any_address_on_the_create_page_is_a_field_error_or_a_user(client_for, admin_user, email):
    response = _create_on_the_page(client_for(admin_user), email)
    assert response.status_code in (302, 400), email


def test_the_migration_reports_accounts_that_are_one_mailbox_and_merges_nothing(
    owner, caplog, capsys
):
    """Rows stored before this form existed (written past `save()`, as the
    old code stored them): a collision is reported and left alone; an
    address that meets nobody takes its one form."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0008_email_idna_collisions")
    first = make_user("dup@t.test")
    second = make_user("placeholder-2@example.com")
    lone = make_user("placeholder-3@example.com")
    User.objects.filter(pk=second.pk).update(email=FULL_WIDTH)
    User.objects.filter(pk=lone.pk).update(email="ann@bücher.example")

    with caplog.at_level("WARNING", logger="handover.migrations"):
        found = migration.report_email_collisions(apps, None)

    assert set(found) == {"dup@t.test"}
    assert {pk for pk, _ in found["dup@t.test"]} == {first.pk, second.pk}
    assert "one mailbox (dup@t.test)" in caplog.text and str(second.pk) in caplog.text
    assert "dup@t.test" in capsys.readouterr().out
    assert User.objects.get(pk=first.pk).email == "dup@t.test"
    assert User.objects.get(pk=second.pk).email == FULL_WIDTH  # merged nothing, changed nothing
    assert User.objects.get(pk=lone.pk).email == "ann@xn--bcher-kva.example"


def test_an_invitation_list_refuses_a_look_alike_line_before_anything_is_sent(admin_user):
    from accounts.services.invitation_import import ImportRow, invitation_rows_validate

    rows = invitation_rows_validate(
        actor=admin_user,
        rows=[ImportRow(line=1, email="ann@ex\u0430mple.com"), ImportRow(line=2, email=FULL_WIDTH)],
    )
    assert "mixes alphabets (Cyrillic and Latin)" in rows[0].errors[0]
    assert rows[1].errors == [] and rows[1].email == "dup@t.test"
