from django.apps import AppConfig

from core.services import set_actor_adapter, set_write_gate


class RbacConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "rbac"

    def ready(self):
        # Services take `actor=`; the bottom layer makes it an Actor through
        # this, without importing rbac (apps load before models).
        from rbac.actor import as_actor
        from rbac.policies.impersonation import check_may_write

        set_actor_adapter(as_actor)
        set_write_gate(check_may_write)
