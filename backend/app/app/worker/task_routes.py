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
# Beat's entries have a queue of their own, so that tools keeping every worker of the
# default queue busy never hold back schedules or the reaper (compose runs a small worker
# for it).
HOUSEKEEPING_QUEUE = "housekeeping"

HOUSEKEEPING_TASKS = (
    TaskName.DISPATCH_SCHEDULES,
    TaskName.REAP_LOST_JOBS,
    TaskName.RESEND_UNSENT_JOBS,
    TaskName.PURGE_EXPIRED_JOBS,
)

# A job's run goes to its tool's queue (chosen when it is sent); a webhook follows its job
# on the default queue.
TASK_ROUTES = {
    TaskName.DELIVER_WEBHOOK.value: {"queue": DEFAULT_QUEUE},
    **{name.value: {"queue": HOUSEKEEPING_QUEUE} for name in HOUSEKEEPING_TASKS},
}
