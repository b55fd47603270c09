"""The beat schedule: periodic entries that Celery beat sends to the workers."""

from typing import Any

from app.core.config import settings


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        "reap-lost-jobs": {
            "task": "app.worker.tasks.reap_lost_jobs",
            "schedule": settings.REAPER_INTERVAL_SECONDS,
            # A reap that waited past the next one is pointless: drop it.
            "options": {"expires": settings.REAPER_INTERVAL_SECONDS},
        },
    }
