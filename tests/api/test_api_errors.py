"""The API's error contract: {"error", "detail"} and the right status."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


def test_malformed_json_is_a_400(call, owner, key_for):
    status, body, _ = call("post", "/api/admin/roles", key_for(owner), raw="{not json")
    assert status == 400
    assert set(body) == {"error", "detail"}


def test_unknown_fields_are_refused(call, owner, key_for):
    status, body, _ = call(
        "post", "/api/admin/api-keys", key_for(owner), {"name": "x", "colour": "red"}
    )
    assert status == 400
    assert body["error"] == "validation_error"
    assert "colour" in body["detail"]


def test_bad_limit_is_a_400(call, owner, key_for):
    status, body, _ = call("get", "/api/admin/audit?limit=100000", key_for(owner))
    assert status == 400
    assert body == {
        "error": "validation_error",
        "detail": "limit: Input should be less than or equal to 200",
    }


def test_unknown_route_is_a_404(client):
    assert client.get("/api/admin/nothing-here").status_code == 404


def test_openapi_schema_is_served(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert "/api/admin/users" in schema["paths"]
    assert "/api/auth/password/forgot" in schema["paths"]


def test_docs_page_uses_no_cdn(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assert "/static/ninja/swagger-ui-bundle.js" in html


def test_audit_listing_paginates_with_a_link_header(call, owner, key_for):
    from audit import services as audit

    for i in range(5):
        audit.record(f"tests.event.{i}")
    status, body, response = call("get", "/api/admin/audit?limit=2", key_for(owner))
    assert status == 200 and len(body) == 2
    link = response["Link"]
    assert link.endswith('rel="next"')
    next_url = link[1 : link.index(">")]
    status, body2, _ = call("get", next_url, key_for(owner))
    assert {e["id"] for e in body}.isdisjoint({e["id"] for e in body2})


def test_nul_characters_are_refused_everywhere(call, owner, key_for, client):
    headers = key_for(owner)
    status, body, _ = call(
        "post", "/api/admin/users", headers, {"email": "a@b.c", "roles": ["\x00"]}
    )
    assert status == 400 and body["error"] == "validation_error"
    status, body, _ = call("get", "/api/admin/users?q=%00", headers)
    assert status == 400
    assert client.get("/users/?q=%00").status_code == 400
    form_encoded = client.post(
        "/login/", "email=a%00%40b.c&password=x", content_type="application/x-www-form-urlencoded"
    )
    assert form_encoded.status_code == 400
    # multipart forms: the form field itself refuses the character
    assert client.post("/login/", {"email": "a\x00@b.c", "password": "x"}).status_code == 200
