"""The beat schedule: periodic entries that Celery beat sends to the workers."""

from typing import TypedDict

from app.core.config import settings
from app.worker.task_routes import TaskName


class BeatEntry(TypedDict):
    task: str
    schedule: float
    options: dict[str, float]


def beat_schedule() -> dict[str, BeatEntry]:
    housekeeping = {
        "dispatch-schedules": (TaskName.DISPATCH_SCHEDULES, settings.SCHEDULER_TICK_SECONDS),
        "reap-lost-jobs": (TaskName.REAP_LOST_JOBS, settings.REAPER_INTERVAL_SECONDS),
        "resend-unsent-jobs": (TaskName.RESEND_UNSENT_JOBS, settings.RESEND_INTERVAL_SECONDS),
        "purge-expired-jobs": (TaskName.PURGE_EXPIRED_JOBS, settings.RETENTION_INTERVAL_SECONDS),
    }
    return {
        entry: {
            "task": task.value,
            "schedule": period,
            # A run that waited past the next one is pointless: drop it.
            "options": {"expires": period},
        }
        for entry, (task, period) in housekeeping.items()
    }
