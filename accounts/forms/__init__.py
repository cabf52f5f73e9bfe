"""Every form, by the pages that use it: `signin`, `users`, `account`
(your own account and the public pages), `invitations`, `keys`, `admin`."""

from accounts.forms.account import (  # noqa: F401 (the package's names)
    CodeForm,
    EmailChangeForm,
    ForgotForm,
    MagicForm,
    NewPasswordForm,
    OwnPasswordForm,
    ProfileForm,
    ReauthForm,
)
from accounts.forms.actions import (  # noqa: F401 (the package's names)
    ActionForm,
)
from accounts.forms.admin import (  # noqa: F401 (the package's names)
    UserAdminForm,
)
from accounts.forms.invitations import (  # noqa: F401 (the package's names)
    AcceptForm,
    InviteForm,
    JoinForm,
)
from accounts.forms.keys import (  # noqa: F401 (the package's names)
    EXPIRY_CHOICES,
    ApiKeyForm,
)
from accounts.forms.saved_views import (  # noqa: F401 (the package's names)
    NewSavedViewForm,
    SavedViewForm,
)
from accounts.forms.signin import (  # noqa: F401 (the package's names)
    LoginForm,
    MFACodeForm,
)
from accounts.forms.users import (  # noqa: F401 (the package's names)
    BAN_DURATIONS,
    BATCH_FILTER_PREFIX,
    MAGIC_TYPES,
    MFA_FILTER_CHOICES,
    STATUS_FILTER_CHOICES,
    AnyChoicesField,
    BanForm,
    BatchForm,
    MagicLinkForm,
    ReasonForm,
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
    role_choices,
)
