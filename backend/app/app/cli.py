"""The `tooljobs` command: what prestart.sh and `make run` call."""

from typing import Annotated

import typer

from app.core.config import settings

cli = typer.Typer(help="tooljobs: run long tools as REST jobs.", no_args_is_help=True)


@cli.command()
def wait_for_services(
    timeout: Annotated[float, typer.Option(help="Seconds before giving up.")] = 60,
) -> None:
    """Wait until the database, Redis and the broker answer."""
    from app.core.backing_services import STARTUP_CHECKS, wait_for

    try:
        wait_for(STARTUP_CHECKS, timeout_seconds=timeout)
    except TimeoutError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


@cli.command()
def create_database() -> None:
    """Create the application's database when it is missing."""
    from app.db.init_db import create_database_if_missing

    try:
        created = create_database_if_missing(settings.database_url)
    except RuntimeError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo("database created" if created else "database exists")


@cli.command()
def create_first_superuser() -> None:
    """Create FIRST_SUPERUSER when no user has that email."""
    from app.db.init_db import create_first_superuser as create
    from app.db.session import SessionLocal

    with SessionLocal() as session:
        created = create(session)
    typer.echo(f"superuser {settings.FIRST_SUPERUSER} {'created' if created else 'exists'}")


@cli.command()
def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    embedded: Annotated[
        bool, typer.Option(help="Use SQLite and an embedded Redis even if servers answer.")
    ] = False,
) -> None:
    """Run prestart, then the API, a worker and beat until Ctrl-C."""
    from app import local_stack

    raise typer.Exit(local_stack.run(host=host, port=port, embedded=embedded))
