"""Single submits that arrive together are admitted, recorded and sent together.

Under load, a submit's CPU goes mostly to its round trips rather than to its work: each
one costs its thread a wait on the network, then a fight for the GIL to go on. So the
submits of one process meet here. While one thread works for a group, the others wait;
then the next thread takes every job that waited meanwhile, with one Redis trip for the
owners' queued-jobs counts, one INSERT, one broker batch and one mirror trip, as
POST /jobs/batch does; the first trip also counts the group's submits for the rate
limit. Each request still answers only once its own job is committed and sent. A submit
that meets nobody is a group of one, and waits for nothing.
"""

import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.crud import job as job_crud
from app.models.job import Job
from app.schemas.job import JobRead
from app.services import quotas, rate_limits
from app.services.errors import RateLimited, Unavailable
from app.services.job_lifecycle import send_new_jobs


@dataclass(eq=False)
class _Submit:
    job: Job
    # The owner's own limit of queued jobs (None: the setting's).
    queued_limit: int | None
    queued_before: int = 0
    leads: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    snapshot: JobRead | None = None
    error: Exception | None = None


class _Meeting:
    """Where a process's submits wait for the one thread that records and sends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[_Submit] = []
        self._busy = False

    def record_and_send(self, session: Session, job: Job, queued_limit: int | None) -> JobRead:
        submit = _Submit(job, queued_limit)
        with self._lock:
            self._waiting.append(submit)
            submit.leads = not self._busy
            self._busy = True
        if not submit.leads:
            submit.done.wait()
        # Led by another thread, or handed the lead by it: then it takes its own group.
        if submit.leads:
            self._lead(session)
        if submit.snapshot is None:
            raise submit.error or Unavailable("the job was not submitted, try again")
        return submit.snapshot

    def _lead(self, session: Session) -> None:
        with self._lock:
            group, self._waiting = self._waiting, []
        try:
            _record_and_send(session, group)
        except Exception as error:
            for submit in group:
                submit.error = error
        finally:
            with self._lock:
                if self._waiting:
                    self._waiting[0].leads = True
                    self._waiting[0].done.set()
                else:
                    self._busy = False
            for submit in group:
                submit.done.set()


_meeting = _Meeting()


def record_and_send(session: Session, job: Job, queued_limit: int | None) -> JobRead:
    """Admit a new job under its owner's queued-jobs limit (`queued_limit`, None for the
    setting's), commit it in `session` (or another waiting thread's), send it, and return
    its snapshot.

    RateLimited past the owner's submit rate limit (the submit is counted here) or when
    their queued jobs are at their limit; IntegrityError when its
    row conflicts (an Idempotency-Key used at the same moment); Unavailable, with the row
    deleted, when the broker did not take it.
    """
    return _meeting.record_and_send(session, job, queued_limit)


def _record_and_send(session: Session, group: Sequence[_Submit]) -> None:
    recorded = _record(session, _admitted(session, group))
    if not recorded:
        return
    try:
        snapshots = send_new_jobs(
            session,
            [submit.job for submit in recorded],
            queued_before=[submit.queued_before for submit in recorded],
        )
    except Unavailable as refusal:
        for submit in recorded:
            submit.error = refusal
        return
    for submit, snapshot in zip(recorded, snapshots, strict=True):
        submit.snapshot = snapshot


def _admitted(session: Session, group: Sequence[_Submit]) -> list[_Submit]:
    """The submits under their owners' submit rate limit and queued-jobs limit, each with
    its owner's backlog before it, counting the ones admitted before it in the group; a
    refusal is its own job's error. Admitted one group at a time, a process's submits
    never pass a limit together."""
    submits = Counter(submit.job.owner_id for submit in group)
    queued, submitted = quotas.counts_for_submits(session, submits)
    positions: Counter[uuid.UUID] = Counter()
    admitted = []
    for submit in group:
        owner_id = submit.job.owner_id
        position = positions[owner_id]
        positions[owner_id] += 1
        try:
            rate_limits.check_counted_submit(submitted.get(owner_id), submits[owner_id], position)
            quotas.check_queued(queued[owner_id], submit.queued_limit, 1)
        except RateLimited as refusal:
            submit.error = refusal
            continue
        submit.queued_before = queued[owner_id]
        queued[owner_id] += 1
        admitted.append(submit)
    return admitted


def _record(session: Session, group: Sequence[_Submit]) -> list[_Submit]:
    """The submits whose rows are committed; a conflict is the error of its own job."""
    if not group:
        return []
    try:
        job_crud.create_jobs(session, [submit.job for submit in group])
        session.commit()
        return list(group)
    except IntegrityError:
        session.rollback()
        if len(group) == 1:
            raise
    recorded = []
    for submit in group:
        try:
            job_crud.create_job(session, submit.job)
            session.commit()
        except IntegrityError as conflict:
            session.rollback()
            submit.error = conflict
        else:
            recorded.append(submit)
    return recorded
