"""LOG_SQL: each statement an engine runs, with its duration, for a developer reading what
a request or a job issues. Parameters are never logged: they carry password hashes, key
digests and users' inputs."""

import logging
import time
from typing import Any

from sqlalchemy import Engine, event

logger = logging.getLogger("app.sql")


def log_statements(*engines: Engine) -> None:
    # A handler of its own: the servers configure no logging for the app's INFO lines,
    # and this switch must show them under uvicorn, celery and the console alike.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s SQL %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for engine in engines:
        event.listen(engine, "before_cursor_execute", _started)
        event.listen(engine, "after_cursor_execute", _finished)


def _started(connection: Any, _cursor: Any, _statement: str, *_args: Any) -> None:
    connection.info.setdefault("sql_started", []).append(time.perf_counter())


def _finished(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    milliseconds = (time.perf_counter() - connection.info["sql_started"].pop()) * 1000
    logger.info("%.2f ms  %s", milliseconds, " ".join(statement.split()))
