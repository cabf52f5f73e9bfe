"""Addresses in their one form (issue 23): NFKC, lower case, the domain
IDNA-encoded -- what `accounts.models.normalize_email` now stores.

Every stored address that can take that form without meeting another
account's takes it (so its owner still signs in with it as typed). Where two
accounts turn out to be one mailbox (`dup@t.test` and `dup@t.tｅst`), nothing
is merged or changed: each collision is printed and logged (logger
`handover.migrations`) for an administrator to resolve by hand.

The normal form is copied here, as migrations must not follow later changes
to the code they were written against."""

import logging
import unicodedata
from collections import defaultdict

import idna
from django.db import migrations

logger = logging.getLogger("handover.migrations")


def _one_form(email):
    email = unicodedata.normalize("NFKC", email or "").strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or domain.isascii():
        return email
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return email
    return f"{local}@{domain}"


def report_email_collisions(apps, schema_editor):
    """Returns the collisions found: {normal form: [(user id, stored), ...]}."""
    User = apps.get_model("accounts", "User")
    Invitation = apps.get_model("accounts", "Invitation")
    groups = defaultdict(list)
    for pk, email in User.objects.order_by("created_at").values_list("pk", "email").iterator():
        groups[_one_form(email)].append((pk, email))
    collisions = {}
    for form, rows in groups.items():
        if len(rows) > 1:
            collisions[form] = rows
            line = "Accounts that are one mailbox (%s), left as they are: %s" % (
                form,
                ", ".join(f"{email} (user {pk})" for pk, email in rows),
            )
            logger.warning(line)
            print(f"\n  {line}")
        elif rows[0][1] != form:
            User.objects.filter(pk=rows[0][0]).update(email=form)
    for pk, email in Invitation.objects.values_list("pk", "email").iterator():
        if _one_form(email) != email:
            Invitation.objects.filter(pk=pk).update(email=_one_form(email))
    return collisions


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_outbound_email_possibly_sent"),
    ]

    operations = [
        migrations.RunPython(report_email_collisions, migrations.RunPython.noop),
    ]
