import json

import pytest

from accounts.services.api_keys import api_key_create


@pytest.fixture
def key_for():
    """`key_for(user, template="full_access" | scopes=[...])` -> Bearer headers."""

    def make(user, *, template=None, scopes=(), expires_in_days=None):
        if not template and not scopes:
            template = "full_access"
        _key, raw = api_key_create(
            actor=user,
            name="tests",
            template=template,
            scopes=scopes,
            expires_in_days=expires_in_days,
        )
        return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    return make


@pytest.fixture
def call(client):
    """`call(method, path, headers, body=None)` -> (status, json or None, response)."""

    def do(method, path, headers, body=None, raw=None):
        kwargs = dict(headers)
        if body is not None or raw is not None:
            kwargs["data"] = raw if raw is not None else json.dumps(body)
            kwargs["content_type"] = "application/json"
        response = getattr(client, method.lower())(path, **kwargs)
        data = json.loads(response.content) if response.content else None
        return response.status_code, data, response

    return do
