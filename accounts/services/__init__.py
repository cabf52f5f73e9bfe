"""Everything that changes accounts, one module per use case:

- `users`: create, profile, status actions (ban, disable, delete, ...)
- `auth`: sign-in/sign-out records, passwords
- `tokens`, `invitations`, `emails`, `sessions`, `mfa`, `batch`, `api_keys`

Import the module you need: `from accounts.services import users`.
"""
