"""`Membership.user_created_at`: a copy of the member's `User.created_at`,
and the index (organization, user_created_at desc, user desc) from which an
organization administrator's users list reads its newest-first page
(issues 24, 29). The column is added empty, filled from the users in one
statement (1.1 million memberships at a million users: see the note in
README Capacity), then made NOT NULL, so a membership made without it
fails loudly instead of sorting out of place. Reversible: going back drops
the index and the column."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill(apps, schema_editor):
    Membership = apps.get_model("rbac", "Membership")
    User = apps.get_model("accounts", "User")
    Membership.objects.filter(user_created_at__isnull=True).update(
        user_created_at=Subquery(User.objects.filter(pk=OuterRef("user_id")).values("created_at"))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_users_trgm_without_pending_list"),
        ("rbac", "0008_views_share"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="user_created_at",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="membership",
            name="user_created_at",
            field=models.DateTimeField(editable=False),
        ),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(
                fields=["organization", "-user_created_at", "-user"],
                name="rbac_membership_newest",
            ),
        ),
    ]
