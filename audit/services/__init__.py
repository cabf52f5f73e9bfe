"""The audit log's services, one module per job: `record` (writing
events, unsealed), `sealer` (linking them into the chain), `hashing` (the
keyed chain's links and lock), `chain` (verification), `retention`
(pruning), `erasure` (a deleted user's personal data). Callers write
`from audit import services as audit`
and `audit.record(...)`.

`record` is called by services inside their own transaction, so the
event commits or rolls back with the change it describes. It takes no
lock: `sealer` links committed events into the chain afterwards, each
with an HMAC-SHA256 (under AUDIT_CHAIN_KEY) of its content chained to the
previous event's hash, in commit order (see that module)."""

from django.utils import timezone  # noqa: F401 (tests patch audit.timezone)

from audit.models import Target  # noqa: F401 (callers write audit.Target)
from audit.services.chain import (  # noqa: F401 (the package's names)
    ChainReport,
    chain_rekey,
    rekeyed_since,
    verify_chain,
)
from audit.services.erasure import (  # noqa: F401 (the package's names)
    NOT_DELETED,
    SCRUBBED,
    audit_scrub_user,
    models_q_about,
    scrub_user_events,
)
from audit.services.hashing import (  # noqa: F401 (the package's names)
    _CHAIN_LOCK_ID,
    _VERIFY_FIELDS,
    HASHED_FIELDS,
    LOCK_NOT_AVAILABLE,
    PRUNED_ACTION,
    REKEYED_ACTION,
    SCRUBBED_ACTION,
    _canonical,
    chain_tail,
    compute_hash,
    lock_chain,
)
from audit.services.record import (  # noqa: F401 (the package's names)
    REDACTED,
    SCRUB_MAX_DEPTH,
    SECRET_KEYS,
    TOO_DEEP,
    EventSpec,
    clean_label,
    deferred,
    record,
    record_denial,
    record_many,
    scrub,
)
from audit.services.retention import (  # noqa: F401 (the package's names)
    _bypass,
    prune_before,
)
from audit.services.sealer import (  # noqa: F401 (the package's names)
    on_sealed,
    seal,
    seal_nudged,
    unsealed,
)
