"""A job's transitions and a batch's insert on the driver's cursor (app.db.driver_cursor)
do what SQLAlchemy's own execution does, on PostgreSQL and on SQLite; statement listeners
still see them; a driver's error is SQLAlchemy's, and a dropped connection is replaced."""

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Connection, Engine, Executable, event, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from app.crud import job as job_crud
from app.db.base import Base
from app.db.base_class import utcnow
from app.db.driver_cursor import fetch_one, insert_rows
from app.db.session import autocommit_engine, build_engine
from app.models.job import ErrorType, Job, JobError, JobState
from app.models.user import User
from app.schemas.job import JobRead

START = job_crud._start_statement((JobState.queued,))
FAIL = job_crud._transition_statement(
    ("error", "finished_at", "message", "progress", "state", "updated_at"), (JobState.running,)
)

# Columns of each job's own (two jobs are compared).
OWN_COLUMNS = {"id", "owner_id", "created_at"}


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, database: None, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        yield autocommit_engine
        return
    sqlite = build_engine(f"sqlite:///{tmp_path / 'jobs.db'}", isolation_level="AUTOCOMMIT")
    Base.metadata.create_all(sqlite)
    yield sqlite
    sqlite.dispose()


def new_owner(connection: Connection) -> uuid.UUID:
    owner_id = uuid.uuid4()
    connection.execute(
        insert(User).values(id=owner_id, email=f"{owner_id}@example.com", hashed_password="x")
    )
    return owner_id


def queued_job(connection: Connection) -> uuid.UUID:
    owner_id, job_id = new_owner(connection), uuid.uuid4()
    connection.execute(
        insert(Job).values(
            id=job_id,
            owner_id=owner_id,
            tool="echo",
            tool_version="1.0.0",
            inputs={"message": "hé", "nested": [1, {"a": None}]},
            state=JobState.queued,
            labels={"team": "x"},
        )
    )
    return job_id


def through_sqlalchemy(
    connection: Connection, statement: Executable, values: dict[str, object]
) -> SimpleNamespace:
    row = connection.execute(statement, values).one()
    return SimpleNamespace(**row._mapping)


def test_a_start_and_an_end_answer_as_through_sqlalchemy(engine: Engine) -> None:
    now = utcnow()
    ending = {
        "new_state": JobState.failed,
        "new_error": JobError(type=ErrorType.tool_error, message="boom"),
        "new_progress": 0.5,
        "new_message": "half",
        "new_finished_at": now,
        "new_updated_at": now,
    }
    with engine.connect() as connection:
        fast, slow = queued_job(connection), queued_job(connection)
        started = fetch_one(connection, START, {"job_id": fast, "now": now})
        expected_start = through_sqlalchemy(connection, START, {"job_id": slow, "now": now})
        ended = fetch_one(connection, FAIL, {"job_id": fast, **ending})
        expected_end = through_sqlalchemy(connection, FAIL, {"job_id": slow, **ending})
        # Not in a state it moves from: no row.
        assert fetch_one(connection, START, {"job_id": fast, "now": now}) is None
    for mine, theirs in ((started, expected_start), (ended, expected_end)):
        assert mine is not None
        ours, reference = vars(mine), vars(theirs)
        assert ours.keys() == reference.keys()
        differing = {key for key in ours if ours[key] != reference[key]}
        assert differing <= OWN_COLUMNS, differing
        assert ours["id"] == fast
        assert type(ours["state"]) is JobState
        assert JobRead.model_validate(mine).model_dump(exclude=OWN_COLUMNS) == (
            JobRead.model_validate(theirs).model_dump(exclude=OWN_COLUMNS)
        )
    assert ended is not None
    assert ended.state is JobState.failed
    assert ended.error["message"] == "boom"


def test_statement_listeners_still_see_the_transition() -> None:
    seen: list[str] = []

    def listen(_connection: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    with autocommit_engine.connect() as connection:
        job_id = queued_job(connection)
        event.listen(connection, "before_cursor_execute", listen)
        started = fetch_one(connection, START, {"job_id": job_id, "now": utcnow()})
    assert started is not None
    assert started.state is JobState.running
    assert [statement.split()[0] for statement in seen] == ["UPDATE"]


def test_a_dropped_connection_is_sqlalchemys_error_and_is_replaced(database: None) -> None:
    with autocommit_engine.connect() as connection:
        job_id = queued_job(connection)
        backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with autocommit_engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        with pytest.raises(OperationalError):
            fetch_one(connection, START, {"job_id": job_id, "now": utcnow()})
        assert connection.invalidated
        connection.rollback()
        started = fetch_one(connection, START, {"job_id": job_id, "now": utcnow()})
    assert started is not None
    assert started.attempt == 1


def new_rows(owner_id: uuid.UUID, count: int) -> list[dict[str, object]]:
    """Rows of new jobs, alike but for their ids."""
    job = Job(
        owner_id=owner_id,
        tool="echo",
        tool_version="1.0.0",
        inputs={"message": "hé", "nested": [1, {"a": None}], "quote": "it's"},
        labels={"team": "x"},
        priority=3,
        max_attempts=2,
    )
    row = job_crud._row_of(job)
    return [{**row, "id": uuid.uuid4()} for _ in range(count)]


def stored(connection: Connection, rows: list[dict[str, object]]) -> list[dict[str, object]]:
    ids = [row["id"] for row in rows]
    # What SQL sees as NULL too: a JSON null is not a NULL.
    nulls = [column.is_(None).label(f"{column.key} is null") for column in Job.__table__.columns]
    found = {
        row.id: {key: value for key, value in row._mapping.items() if key != "id"}
        for row in connection.execute(select(Job.__table__, *nulls).where(Job.id.in_(ids)))
    }
    return [found[job_id] for job_id in ids]


def test_a_batch_is_inserted_as_through_sqlalchemy(engine: Engine) -> None:
    with engine.connect() as connection:
        owner_id = new_owner(connection)
        rows = new_rows(owner_id, 6)
        fast, slow = rows[:3], rows[3:]
        insert_rows(connection, Job.__table__, fast)
        connection.execute(insert(Job.__table__), slow)
        mine, theirs = stored(connection, fast), stored(connection, slow)
        differing = [{k for k in a if a[k] != b[k]} for a, b in zip(mine, theirs, strict=True)]
        assert differing == [set()] * 3
        assert stored(connection, fast)[0]["inputs"]["quote"] == "it's"
        assert stored(connection, fast)[0]["state"] is JobState.queued


def test_a_refused_batch_is_sqlalchemys_error(engine: Engine) -> None:
    # SQLAlchemy's own error, so that the submit's handlers and retries know it.
    with engine.connect() as connection:
        rows = new_rows(new_owner(connection), 2)
        with pytest.raises(IntegrityError):
            insert_rows(connection, Job.__table__, [*rows, rows[0]])


def test_statement_listeners_still_see_the_batch() -> None:
    seen: list[str] = []

    def listen(_connection: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    with autocommit_engine.connect() as connection:
        rows = new_rows(new_owner(connection), 2)
        event.listen(connection, "before_cursor_execute", listen)
        insert_rows(connection, Job.__table__, rows)
        assert len(stored(connection, rows)) == 2
    assert seen[0].split()[:2] == ["INSERT", "INTO"]
