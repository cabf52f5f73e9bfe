"""Waking a Celery task by its registered name.

Services queue work after commit (an email to send, a job to run) but must
not import the task modules: those are entry points, which import the
services. Each app registers its tasks when Django starts (its AppConfig
imports its `tasks` module), and a service wakes one by name here.
Respects CELERY_TASK_ALWAYS_EAGER like `task.delay`.
"""

from __future__ import annotations

from celery import current_app


def wake(name: str, *args) -> None:
    """`tasks.<name>.delay(*args)` without importing the task module.
    Raises what publishing raises (the broker may be down)."""
    current_app.tasks[name].delay(*args)
