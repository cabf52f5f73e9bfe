from django.apps import AppConfig

from core.services import set_denial_recorder


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"

    def ready(self):
        # The bottom layer records refusals through the audit log without
        # importing it: register the recorder here, once Django is loaded.
        from audit import tasks  # noqa: F401 (registration: the sealer's nudge wakes it by name)
        from audit.services import record_denial  # apps load before models

        set_denial_recorder(record_denial)
