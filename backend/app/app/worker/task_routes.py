"""What the workers run and where it is sent: task names and queues, declared once and
imported by the app (which sends), the worker (which registers) and beat (which schedules).
"""

from enum import StrEnum


class TaskName(StrEnum):
    # Spelled as Celery would name the functions in app.worker.tasks, so that messages
    # queued by an earlier version still find their task.
    RUN_JOB = "app.worker.tasks.run_job"
    DELIVER_WEBHOOK = "app.worker.tasks.deliver_webhook"
    DISPATCH_SCHEDULES = "app.worker.tasks.dispatch_schedules"
    REAP_LOST_JOBS = "app.worker.tasks.reap_lost_jobs"
    RESEND_UNSENT_JOBS = "app.worker.tasks.resend_unsent_jobs"
    PURGE_EXPIRED_JOBS = "app.worker.tasks.purge_expired_jobs"


DEFAULT_QUEUE = "default"

# A job's run goes to its tool's queue (chosen when it is sent); every other task here.
TASK_ROUTES = {
    name.value: {"queue": DEFAULT_QUEUE} for name in TaskName if name is not TaskName.RUN_JOB
}
