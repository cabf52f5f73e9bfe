"""The accounts part of the JSON API, one module per job.

- `schemas`: the request and response schemas;
- `common`: what several routers share (the actor, the permission check, the
  user representation, loading a user);
- `users`: `/api/admin/users/...`, including per-user actions, sessions, MFA
  factors and the data export;
- `batch`: `/api/admin/users/batch/{action}`;
- `invitations`: `/api/admin/invitations/...`;
- `keys`: `/api/admin/api-keys/...`;
- `auth`: the public `/api/auth/...` routes.

Each module defines a `router`; `handover.api` registers them.
"""
