import pytest

from tests.api.conftest import call, key_for  # noqa: F401 (the API tests' fixtures)
from tests.webhooks.receiver import start_receiver


@pytest.fixture
def receiver():
    state, server = start_receiver()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def local_webhooks(settings):
    """Tests deliver to 127.0.0.1 over http, as WEBHOOKS_ALLOW_PRIVATE=1
    and a development setting allow."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.WEBHOOKS_REQUIRE_HTTPS = False
    return settings
