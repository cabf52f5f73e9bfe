"""core.compiled: a parameterless queryset's SQL written once by the ORM,
its rows as model instances like the queryset's own."""

from __future__ import annotations

import pytest

from core.compiled import Compiled
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def _endpoint(url, *, enabled=True, event_types=()):
    return WebhookEndpoint.objects.create(
        url=url, enabled=enabled, event_types=list(event_types), secret="whsec_test"
    )


def test_the_rows_are_the_querysets_own_fields_converted():
    _endpoint("https://a.example/hook", event_types=["accounts.user.banned"])
    _endpoint("https://b.example/hook", enabled=False)
    _endpoint("https://c.example/hook")
    enabled = Compiled(lambda: WebhookEndpoint.objects.filter(enabled=True))
    rows = list(enabled())
    expected = list(WebhookEndpoint.objects.filter(enabled=True))
    assert [r.pk for r in rows] == [e.pk for e in expected]  # the model's ordering too
    assert rows[0].event_types == ["accounts.user.banned"]  # JSON, not text
    assert all(isinstance(r, WebhookEndpoint) for r in rows)


def test_the_queryset_is_built_once_and_sees_later_rows():
    built = []

    def build():
        built.append(1)
        return WebhookEndpoint.objects.filter(enabled=True)

    enabled = Compiled(build)
    assert list(enabled()) == []
    _endpoint("https://a.example/hook")
    assert len(list(enabled())) == 1
    assert len(built) == 1


def test_a_queryset_with_parameters_is_refused():
    by_url = Compiled(lambda: WebhookEndpoint.objects.filter(url="https://a.example/hook"))
    with pytest.raises(ValueError):
        by_url()
