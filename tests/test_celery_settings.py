"""Celery reads a few settings on every publish (core.tasks.wake after a
commit); handover/settings/background.py states them so each is found in
Django's settings at once rather than tried under four names, each a raised
AttributeError. Stating them must not change what Celery does."""

import pytest
from celery.app.defaults import DEFAULTS
from django.conf import settings

READ_ON_EVERY_PUBLISH = [
    "task_default_queue",
    "task_send_sent_event",
    "task_repr_maxlevels",
    "broker_pool_acquire_timeout",
]


@pytest.mark.parametrize("key", READ_ON_EVERY_PUBLISH)
def test_setting_read_on_every_publish_is_stated_with_celerys_default(key):
    name = "CELERY_" + key.upper()
    assert hasattr(settings, name), f"{name} is looked up on every publish"
    assert getattr(settings, name) == DEFAULTS[key]
