"""LOG_SQL: each statement an engine runs, with its duration, for a developer reading what
a request or a job issues. Parameters are never logged: they carry password hashes, key
digests and users' inputs."""

import logging
import time
from typing import Any

import structlog
from sqlalchemy import Engine, event

logger = structlog.stdlib.get_logger("app.sql")


def log_statements(*engines: Engine) -> None:
    # INFO whatever the process's level: the switch must show them in every process.
    logging.getLogger("app.sql").setLevel(logging.INFO)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", _started)
        event.listen(engine, "after_cursor_execute", _finished)


def _started(connection: Any, _cursor: Any, _statement: str, *_args: Any) -> None:
    connection.info.setdefault("sql_started", []).append(time.perf_counter())


def _finished(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    milliseconds = (time.perf_counter() - connection.info["sql_started"].pop()) * 1000
    logger.info("sql", duration_ms=round(milliseconds, 2), statement=" ".join(statement.split()))
