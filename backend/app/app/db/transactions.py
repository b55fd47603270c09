"""A real transaction on a session that otherwise commits each statement as it runs
(app.db.session.StatementSessionLocal), for work of several statements that must stand
or fall together."""

from sqlalchemy.orm import Session


def in_one_transaction(session: Session) -> None:
    """The session's next statements, up to its next commit, are one transaction."""
    session.commit()  # ends the current transaction: the option applies to a new one
    bind = session.get_bind()
    session.connection(execution_options={"isolation_level": bind.dialect.default_isolation_level})
