"""The deleted users' ids as a partial index: an organization
administrator's unfiltered users list counts the organization's members
that are not deleted from its memberships and this index (a few entries:
the deleted users), without reading a user row (issues 24, 29;
`accounts.selectors.counting`)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_users_trgm_without_pending_list"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="user",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", False)),
                fields=["id"],
                name="accounts_user_deleted_ids",
            ),
        ),
    ]
