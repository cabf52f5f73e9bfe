from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self):
        # Register the Celery tasks in every process (web, worker, command),
        # so services can wake them by name (core.tasks.wake).
        from accounts import tasks  # noqa: F401 (registration)
