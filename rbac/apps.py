from django.apps import AppConfig

from core.services import set_actor_adapter


class RbacConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "rbac"

    def ready(self):
        # Services take `actor=`; the bottom layer makes it an Actor through
        # this, without importing rbac (apps load before models).
        from rbac.actor import as_actor

        set_actor_adapter(as_actor)
