"""Statements committed as they run, for work that is one statement: a job's state
transition then costs one round trip to PostgreSQL instead of three (BEGIN, the UPDATE,
COMMIT), and the write order stays what it was (committed before it is mirrored)."""

from sqlalchemy.orm import Session


def commit_each_statement(session: Session) -> None:
    """The session's next transaction commits each statement as it runs. Call it before
    the transaction's first statement, and only for work whose statements each stand on
    their own: nothing is rolled back."""
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
