from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The audit layer tells its subscribers about the events it writes,
        # in the writing transaction; deliveries are rows in that transaction
        # (webhooks.services.deliveries), numbered, given the chain hash and
        # sent once the sealer has sealed the events.
        from audit.services.record import subscribe
        from audit.services.sealer import on_sealed
        from webhooks import tasks  # noqa: F401 (registration)
        from webhooks.payloads import events_data
        from webhooks.services.deliveries import deliveries_for_events, deliveries_sealed
        from webhooks.services.hygiene import deliveries_scrub_for_events

        subscribe(lambda events: deliveries_for_events(events, data_for=events_data))
        on_sealed(deliveries_sealed)
        # A user's personal data scrubbed from the audit log leaves the
        # stored payloads in the same transaction.
        subscribe(deliveries_scrub_for_events)
