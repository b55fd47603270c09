"""The server's commands of `tooljobs`: what prestart.sh and `make run` call, and tools on
the command line. The `tooljobs` script itself is the client's (client/, tooljobs-client),
which adds these through the `tooljobs.commands` entry point (pyproject.toml); its root
holds `--debug`. An error is a line or two saying what went wrong and what to do (the
traceback with `--debug`); the exit code says which kind of error it was.

Settings are read inside the commands, never on import, so that invalid settings are
such an error too, and `--help` works whatever they are.
"""

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from typer.core import TyperCommand, TyperGroup

from app.tools.base import ToolError, ToolTimeout
from app.tools.inputs import validate_inputs
from app.tools.registry import UnknownToolError, get_tool, load_tools, source_of, tools_by_name
from app.tools.testing import ToolRunner


class ExitCode(IntEnum):
    DONE = 0
    FAILED = 1  # a tool failed or is broken, a service did not answer
    USAGE = 2  # what was asked cannot be: an unknown command, option or tool, bad inputs
    SETTINGS = 3  # the settings are invalid (a changethis secret outside local, ...)


EXIT_CODES = (
    "Exit codes: 0 done; 1 failed (a tool failed or is broken, a service did not answer); "
    "2 usage error (unknown command, option or tool, or invalid inputs); "
    "3 invalid settings (such as a changethis secret outside ENVIRONMENT=local)."
)


class CommandFailed(Exception):
    """What went wrong and what to do, in a line or two, with the exit code to end with."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.code = code


# ctx is the Context of the click that typer vendors, which it does not export.
def _invoke_plainly(invoke: Any, ctx: Any) -> Any:
    """Any error of a command ends it with a short message instead of a traceback."""
    try:
        return invoke(ctx)
    except (typer.TyperException, typer.Exit, typer.Abort):
        raise  # the command line's own: usage errors, --help, Ctrl-C
    except BrokenPipeError:
        # The reader went away (`| head`): nothing to say, and nowhere to say it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(ExitCode.FAILED) from None
    except Exception as error:
        if ctx.find_root().params.get("debug"):
            raise
        message, code = _explained(error)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(code) from None


class PlainErrors(TyperGroup):
    """A group whose commands' errors end them plainly (`_invoke_plainly`)."""

    def invoke(self, ctx: Any) -> Any:
        return _invoke_plainly(super().invoke, ctx)


class PlainErrorsCommand(TyperCommand):
    """A command whose errors end it plainly: the client's root group, which runs it, knows
    nothing of the server's errors."""

    def invoke(self, ctx: Any) -> Any:
        return _invoke_plainly(super().invoke, ctx)


def _explained(error: Exception) -> tuple[str, ExitCode]:
    if isinstance(error, CommandFailed):
        return str(error), error.code
    if isinstance(error, ValidationError) and error.title == "Settings":
        return (
            f"invalid settings: {_field_errors(error)}\n"
            "set them in the environment or in the repository's .env",
            ExitCode.SETTINGS,
        )
    first_line = (str(error).strip().splitlines() or [""])[0][:300]
    return (
        f"{type(error).__name__}: {first_line}\n"
        "run again as `tooljobs --debug ...` to see the traceback",
        ExitCode.FAILED,
    )


def _field_errors(error: ValidationError) -> str:
    """Each invalid field and why, on one line; never the value (it may be a secret)."""
    return "; ".join(
        ": ".join(
            filter(None, [".".join(map(str, e["loc"])), e["msg"].removeprefix("Value error, ")])
        )
        for e in error.errors(include_url=False, include_input=False)
    )


# In `tooljobs --help`, beside the client's commands for people.
SERVER_PANEL = "The server (operators and tool authors)"

# Only its commands join `tooljobs`: the client's root has the options and the help.
cli = typer.Typer()
# Not `tools`, which is the client's: the tools a server runs, read over its API. These
# are the tools installed in this environment, loaded and run in this process.
tools_cli = typer.Typer(
    cls=PlainErrors,
    help="List, check and run the tools installed here, in this process, without the "
    "queue or a server.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
)
cli.add_typer(tools_cli, name="local-tools", rich_help_panel=SERVER_PANEL)


def server_command() -> Callable[[Callable[..., None]], Callable[..., None]]:
    """`@server_command()` declares one of the server's top-level commands."""
    return cli.command(cls=PlainErrorsCommand, rich_help_panel=SERVER_PANEL, epilog=EXIT_CODES)


@server_command()
def wait_for_services(
    timeout: Annotated[float, typer.Option(help="Seconds before giving up.")] = 60,
) -> None:
    """Wait until the database, Redis and the broker answer."""
    from app.services.use_cases.health import STARTUP_CHECKS, wait_for

    try:
        wait_for(STARTUP_CHECKS, timeout_seconds=timeout)
    except TimeoutError as error:
        raise CommandFailed(str(error)) from error


@server_command()
def create_database() -> None:
    """Create the application's database when it is missing."""
    from app.core.config import settings
    from app.db.init_db import create_database_if_missing

    try:
        created = create_database_if_missing(settings.database_url)
    except RuntimeError as error:
        raise CommandFailed(str(error)) from error
    typer.echo("database created" if created else "database exists")


@server_command()
def create_first_superuser() -> None:
    """Create FIRST_SUPERUSER when no user has that email."""
    from app.core.config import settings
    from app.db.init_db import create_first_superuser as create
    from app.db.session import SessionLocal

    with SessionLocal() as session:
        created = create(session)
    typer.echo(f"superuser {settings.FIRST_SUPERUSER} {'created' if created else 'exists'}")


@server_command()
def console() -> None:
    """A Python console with `session` open on the database and every model imported."""
    import code

    from sqlalchemy import func, select

    from app.core.config import settings
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


@server_command()
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


@tools_cli.command("list", epilog=EXIT_CODES)
def list_tools() -> None:
    """The tools this installation runs (broken ones are left out: see `check`)."""
    for name, tool in tools_by_name().items():
        typer.echo(f"{name}\t{tool.version}\t{tool.title}")


@tools_cli.command("check", epilog=EXIT_CODES)
def check_tools() -> None:
    """Load every tool as the API and the workers do, and print one line per tool: ok, or
    what is broken and where. Exits with 1 when any is broken, so that CI can run it."""
    loaded = load_tools(mockup_tests=False)
    for name, tool in loaded.tools.items():
        typer.echo(f"ok      {name} {tool.version} ({source_of(tool)})")
    for name, twin in loaded.mockups.items():
        typer.echo(f"ok      {name} mockup ({source_of(twin)})")
    for broken in loaded.broken:
        typer.echo(f"broken  {broken}")
    if loaded.broken:
        checked = len(loaded.tools) + len(loaded.mockups) + len(loaded.broken)
        raise CommandFailed(
            f"{len(loaded.broken)} of {checked} tools are broken; "
            "the API and the workers leave them out until they are fixed"
        )


@tools_cli.command("run", epilog=EXIT_CODES)
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
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-o",
            help="Copy the artifacts into this folder; without it they are deleted with "
            "the run's temporary folder.",
        ),
    ] = None,
) -> None:
    """Run a tool in this process and print its outputs and artifacts as JSON."""
    try:
        tool = get_tool(name)
    except UnknownToolError as error:
        raise CommandFailed(
            f"unknown tool {name!r}; `tooljobs local-tools list` shows the tools, "
            "`tooljobs local-tools check` the broken ones",
            ExitCode.USAGE,
        ) from error
    with tempfile.TemporaryDirectory(prefix=f"tooljobs-{name}-") as folder:
        runner = ToolRunner(Path(folder))
        values = _input_values(inputs or [], runner)
        try:
            valid_inputs = validate_inputs(tool.inputs_model, values)
        except ValidationError as error:
            raise CommandFailed(
                f"invalid inputs: {_field_errors(error)}\n"
                f"{name} takes: {', '.join(tool.inputs_model.model_fields) or 'no inputs'}",
                ExitCode.USAGE,
            ) from error
        try:
            result = runner.run(tool, valid_inputs)
        except (ToolError, ToolTimeout) as error:
            raise CommandFailed(f"{name} failed: {error}") from error
        artifacts: dict[str, dict[str, object]] = {}
        for artifact, path in result.artifacts.items():
            artifacts[artifact] = {"size": path.stat().st_size}
            if output_dir is not None:
                output_dir.mkdir(parents=True, exist_ok=True)
                artifacts[artifact]["path"] = str(shutil.copyfile(path, output_dir / artifact))
    typer.echo(
        json.dumps(
            {"outputs": result.outputs.model_dump(mode="json"), "artifacts": artifacts}, indent=2
        )
    )


def _input_values(items: list[str], runner: ToolRunner) -> dict[str, object]:
    """`--input` items as the tool's raw inputs: JSON when it parses, files by `@path`."""
    values: dict[str, object] = {}
    for item in items:
        key, separator, raw = item.partition("=")
        if not separator:
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint="--input")
        if raw.startswith("@"):
            file = Path(raw[1:])
            if not file.is_file():
                raise typer.BadParameter(f"no file {str(file)!r}", param_hint="--input")
            values[key] = str(runner.add_file(file))
            continue
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values
