"""`/api/admin/api-keys/...`: list, create and revoke API keys."""

from __future__ import annotations

import uuid

from django.shortcuts import get_object_or_404
from ninja import Router, Status

from accounts.api.common import actor_of, reauth_password, require
from accounts.api.schemas import ApiKeyCreatedOut, ApiKeyCreateIn, ApiKeyOut, ReauthIn
from accounts.models import ApiKey
from accounts.services.api_keys import api_key_create, api_key_revoke
from audit import events
from core.api_errors import ERRORS, MAX_LIMIT, responses

router = Router(tags=["api keys"])


def api_key_out(key: ApiKey) -> dict:
    return {
        "id": key.pk,
        "name": key.name,
        "prefix": key.prefix,
        "user_id": key.user_id,
        "user_email": key.user.email,
        "scopes": list(key.scopes),
        "status": key.status,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
        "revoked_reason": key.revoked_reason if key.revoked_at else "",
    }


@router.get("", response=responses(200, list[ApiKeyOut]))
def list_api_keys(request):
    require(request, "api-keys:read", action=events.API_KEY_LISTED)
    keys = ApiKey.objects.filter(user__in=actor_of(request).visible_users())
    keys = keys.select_related("user").order_by("-created_at")[:MAX_LIMIT]
    return Status(200, [api_key_out(k) for k in keys])


@router.post("", response=responses(201, ApiKeyCreatedOut))
def create_api_key(request, payload: ApiKeyCreateIn):
    key, raw = api_key_create(
        actor=actor_of(request),
        name=payload.name,
        scopes=payload.permissions,
        template=payload.template,
        expires_in_days=payload.expires_in_days,
        current_password=payload.current_password,
    )
    return Status(201, {**api_key_out(key), "key": raw})


@router.delete("/{uuid:key_id}", response={204: None, **ERRORS})
def revoke_api_key(request, key_id: uuid.UUID, payload: ReauthIn | None = None):
    key = get_object_or_404(ApiKey, pk=key_id)
    api_key_revoke(actor=actor_of(request), key=key, current_password=reauth_password(payload))
    return Status(204, None)
