"""Guards. Services call these before they change anything, so every entry
point -- page, fragment, API, batch, Django admin, task, command -- obeys
them. `check_can_<action>` is the one named guard of each action (in
`accounts` for acting on user accounts, in `access` for keys, invitations,
roles, grants and ownership); `base` holds what they are made of.

`check_*` functions raise `PolicyDenied` with a code and a sentence people
can read. Pages ask `allows(check_can_<action>, actor, ...)` before offering
an action, and `user_has(actor, permission)` before showing a page or a
section. Anything unknown is denied (fail closed).
"""

from rbac.policies.access import (  # noqa: F401 (the package's names)
    access_change_denial,
    check_can_assign_role,
    check_can_change_grants,
    check_can_create_api_key,
    check_can_create_role,
    check_can_delete_role,
    check_can_edit_role,
    check_can_give_role,
    check_can_invite,
    check_can_invite_list,
    check_can_join,
    check_can_remove_role,
    check_can_revoke_api_key,
    check_can_revoke_invitation,
    check_can_transfer_ownership,
    invitation_still_grantable,
)
from rbac.policies.accounts import (  # noqa: F401 (the package's names)
    check_can_add_passkey,
    check_can_ban,
    check_can_cancel_own_deletion,
    check_can_change_email,
    check_can_change_own_email,
    check_can_create_user,
    check_can_delete,
    check_can_disable,
    check_can_enable,
    check_can_end_sessions,
    check_can_enrol_mfa,
    check_can_erase,
    check_can_export_own_data,
    check_can_export_user,
    check_can_export_users,
    check_can_force_password_change,
    check_can_mark_verified,
    check_can_purge,
    check_can_regenerate_recovery_codes,
    check_can_remove_mfa,
    check_can_replace_mfa,
    check_can_request_own_deletion,
    check_can_resend_verification,
    check_can_reset_password,
    check_can_restore,
    check_can_scrub_audit,
    check_can_send_magic_link,
    check_can_send_reset_link,
    check_can_unban,
    check_can_unlock,
    check_can_update_profile,
    export_sections,
)
from rbac.policies.base import (  # noqa: F401 (the package's names)
    PolicyDenied,
    allows,
    check_can_hand_out,
    check_escalation,
    check_fresh_proof,
    check_hierarchy,
    check_not_owner,
    check_not_self,
    check_permission,
    check_self_service,
    check_user_action,
    is_self,
    missing_permissions,
    owner_is_active,
    owner_status_fixed,
    permissions_of,
    role_managers_remaining,
    target_permissions,
    user_can_act_on_self,
    user_can_manage_user,
    user_has,
)
from rbac.policies.grants import (  # noqa: F401 (the package's names)
    acting_through,
    check_link_still_granted,
    credential_end,
    job_credential_end,
    session_is_open,
)
from rbac.policies.impersonation import (  # noqa: F401 (the package's names)
    check_can_impersonate,
    check_may_write,
)
from rbac.policies.jobs import (  # noqa: F401 (the package's names)
    check_can_cancel_job,
    check_can_read_job_results,
    check_can_resume_job,
    check_can_view_job,
    user_can_cancel_job,
    user_can_read_job_results,
    user_can_resume_job,
    user_can_view_job,
)
from rbac.policies.managers import (  # noqa: F401 (the package's names)
    MANAGING_PERMISSIONS,
    check_last_manager,
    check_orgs_keep_managers,
    organizations_at_stake,
)
from rbac.policies.orgs import (  # noqa: F401 (the package's names)
    check_can_add_member,
    check_can_assign_org_role,
    check_can_create_organization,
    check_can_delete_organization,
    check_can_read_members,
    check_can_remove_member,
    check_can_remove_org_role,
    check_can_update_organization,
)
from rbac.policies.saved_views import (  # noqa: F401 (the package's names)
    check_can_change_view,
    check_can_delete_view,
    check_can_save_view,
    user_may_open_view,
)
from rbac.policies.standing import allowed_users  # noqa: F401 (the package's names)
from rbac.policies.webhooks import (  # noqa: F401 (the package's names)
    check_can_manage_webhooks,
    check_can_read_webhooks,
)
