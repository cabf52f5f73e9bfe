"""The OpenAPI document keeps the operation ids clients are generated from."""

from __future__ import annotations

from handover.api import api


def _operation_ids() -> list[str]:
    schema = api.get_openapi_schema(path_prefix="/api/")
    return [op["operationId"] for path in schema["paths"].values() for op in path.values()]


def test_operation_ids_are_unique():
    ids = _operation_ids()
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def test_operation_ids_name_the_app_not_the_module_a_handler_lives_in():
    ids = set(_operation_ids())
    assert {
        "accounts_api_list_users",
        "accounts_api_batch",
        "accounts_api_create_invitation",
        "accounts_api_revoke_api_key",
        "accounts_api_forgot_password",
        "audit_api_list_events",
        "rbac_api_list_roles",
        "user_disable",
    } <= ids
    assert not [i for i in ids if i.startswith("accounts_api_users_")]
