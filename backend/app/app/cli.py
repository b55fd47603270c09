"""The `tooljobs` command: what prestart.sh and `make run` call."""

from typing import Annotated

import typer

from app.core.config import settings

cli = typer.Typer(help="tooljobs: run long tools as REST jobs.", no_args_is_help=True)
tools_cli = typer.Typer(help="List tools and run one in-process, without the queue.")
cli.add_typer(tools_cli, name="tools")


@cli.command()
def wait_for_services(
    timeout: Annotated[float, typer.Option(help="Seconds before giving up.")] = 60,
) -> None:
    """Wait until the database, Redis and the broker answer."""
    from app.services.use_cases.health import STARTUP_CHECKS, wait_for

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
def console() -> None:
    """A Python console with `session` open on the database and every model imported."""
    import code

    from sqlalchemy import func, select

    from app.db.base_class import Base
    from app.db.session import SessionLocal
    from app.models.job import JobState

    models = {mapper.class_.__name__: mapper.class_ for mapper in Base.registry.mappers}
    models["JobState"] = JobState
    with SessionLocal() as session:
        code.interact(
            banner=f"session, select, func, settings, {', '.join(sorted(models))}",
            local={
                **models,
                "session": session,
                "select": select,
                "func": func,
                "settings": settings,
            },
            exitmsg="",
        )


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


@tools_cli.command("list")
def list_tools() -> None:
    """The tools this installation has."""
    from app.tools.registry import tools_by_name

    for name, tool in tools_by_name().items():
        typer.echo(f"{name}\t{tool.version}\t{tool.title}")


@tools_cli.command("run")
def run_tool(
    name: str,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            help="key=value (value read as JSON when it parses, else as text); "
            "key=@path for a file input.",
        ),
    ] = None,
) -> None:
    """Run a tool in this process and print its outputs and artifacts as JSON."""
    import json
    import tempfile
    from pathlib import Path

    from app.tools.testing import ToolRunner

    folder = Path(tempfile.mkdtemp(prefix=f"tooljobs-{name}-"))
    runner = ToolRunner(folder)
    values: dict[str, object] = {}
    for item in inputs or []:
        key, separator, raw = item.partition("=")
        if not separator:
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint="--input")
        if raw.startswith("@"):
            values[key] = str(runner.add_file(Path(raw[1:])))
            continue
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    result = runner.run(name, values)
    typer.echo(
        json.dumps(
            {
                "outputs": result.outputs.model_dump(mode="json"),
                "artifacts": {name: str(path) for name, path in result.artifacts.items()},
            },
            indent=2,
        )
    )
