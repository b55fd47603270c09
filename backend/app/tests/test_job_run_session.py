"""A job's run takes its session on a connection its thread keeps from one run to the
next (app.db.session.job_run_session): in autocommit at every run's start, made again
when the database dropped it."""

import threading
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db.retry import retry_while_unreachable
from app.db.session import SessionLocal, autocommit_engine, job_run_session
from app.db.transactions import in_one_transaction

pytestmark = pytest.mark.usefixtures("database")


def driver_connection(session: Session) -> Any:
    return session.connection().connection.dbapi_connection


def backend_pid(session: Session) -> int:
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_thread_keeps_its_connection_from_one_run_to_the_next() -> None:
    with job_run_session() as session:
        first = backend_pid(session)
    # Given back to the pool, the connection would be the one taken here.
    with autocommit_engine.connect() as pooled, job_run_session() as session:
        assert backend_pid(session) == first
        assert pooled.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
    others: list[int] = []

    def run_elsewhere() -> None:
        with job_run_session() as session:
            others.append(backend_pid(session))

    thread = threading.Thread(target=run_elsewhere)
    thread.start()
    thread.join()
    assert len(others) == 1
    assert others[0] != first


def test_a_run_whose_ending_was_one_transaction_leaves_the_next_in_autocommit() -> None:
    with job_run_session() as session:
        assert driver_connection(session).autocommit
        in_one_transaction(session)
        assert not driver_connection(session).autocommit
        session.execute(text("SELECT 1"))
        session.commit()
    with job_run_session() as session:
        assert driver_connection(session).autocommit


def test_a_connection_the_database_dropped_is_made_again() -> None:
    with job_run_session() as session:
        dropped = backend_pid(session)
    with SessionLocal() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
        admin.commit()
    with job_run_session() as session:
        again = retry_while_unreachable(session, "test", lambda: backend_pid(session))
    assert again != dropped
