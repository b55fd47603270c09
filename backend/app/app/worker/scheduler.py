"""The beat schedule: periodic entries that Celery beat sends to the workers."""

from typing import Any

from app.core.config import settings


def beat_schedule() -> dict[str, dict[str, Any]]:
    housekeeping = {
        "dispatch-schedules": ("dispatch_schedules", settings.SCHEDULER_TICK_SECONDS),
        "reap-lost-jobs": ("reap_lost_jobs", settings.REAPER_INTERVAL_SECONDS),
        "resend-unsent-jobs": ("resend_unsent_jobs", settings.RESEND_INTERVAL_SECONDS),
        "purge-expired-jobs": ("purge_expired_jobs", settings.RETENTION_INTERVAL_SECONDS),
    }
    return {
        entry: {
            "task": f"app.worker.tasks.{task}",
            "schedule": period,
            # A run that waited past the next one is pointless: drop it.
            "options": {"expires": period},
        }
        for entry, (task, period) in housekeeping.items()
    }
