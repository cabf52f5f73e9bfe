"""The Redis broker transport, with one client per channel.

kombu's Redis channel builds a new `redis.Redis` for every publish,
registering its ~170 response callbacks each time: about a fifth of the
CPU of a publish (the wake an audited write sends after commit, e.g. a
ban's notice email), measured. Here a channel keeps one client for its
connection pool, as `core.cache` does for the cache: a client takes a
pooled connection per command and holds no state of its own. Everything
else is kombu's Redis transport. Chosen by CELERY_BROKER_TRANSPORT when
the broker is Redis (handover/settings/background.py).
"""

from __future__ import annotations

from kombu.transport import redis


class Channel(redis.Channel):
    def _create_client(self, asynchronous=False):
        if asynchronous:  # the worker's BRPOP client: kombu caches it already
            return super()._create_client(asynchronous=True)
        pool = self.pool  # a closed channel drops its pool; a new one gets a new client
        client = self.__dict__.get("_sync_client")
        if client is None or client.connection_pool is not pool:
            client = self.__dict__["_sync_client"] = super()._create_client()
        return client


class Transport(redis.Transport):
    Channel = Channel
