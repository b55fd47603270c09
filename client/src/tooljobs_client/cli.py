"""The `tooljobs` command: people's commands on a server's API (login, submit, jobs, ...),
and the commands that installed packages add through the `tooljobs.commands`
entry-point group (the server package adds its own: `run`, `local-tools`, ...).

Results go to stdout (JSON with `--json`), progress and errors to stderr; the exit code
says how it ended (`ExitCode`), so that a shell script can branch on it.
"""

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, cast, get_args

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from tooljobs_client import credentials
from tooljobs_client.client import Client
from tooljobs_client.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    TooljobsError,
    Unauthorized,
    Unreachable,
    WaitTimeout,
)
from tooljobs_client.job import Job
from tooljobs_client.models import JobState

DEFAULT_URL = "http://127.0.0.1:8000"
PLUGIN_GROUP = "tooljobs.commands"
JOBS_PANEL = "Jobs on a server (people and scripts)"


class ExitCode(IntEnum):
    DONE = 0  # done; with --wait, the job succeeded
    FAILED = 1  # any other error (a conflict, a server error, a server command failed)
    USAGE = 2  # an unknown command, option or tool, invalid inputs (the API's 422)
    SETTINGS = 3  # the server's commands: invalid settings
    NOT_FOUND = 4  # no such job, artifact or file, or not yours (404, 410)
    UNAUTHORIZED = 5  # not signed in, wrong or expired credentials, not allowed (401, 403)
    UNREACHABLE = 6  # the server did not answer, or a service behind it is down (503)
    RATE_LIMITED = 7  # too many requests; retry later (429)
    JOB_FAILED = 8  # the job waited for ended failed
    JOB_CANCELLED = 9  # the job waited for ended cancelled
    TIMED_OUT = 10  # --timeout passed before the job ended (it goes on)


EXIT_CODES = (
    "Exit codes: 0 done (with --wait: the job succeeded); 1 other error; 2 usage or "
    "invalid inputs; 3 invalid server settings; 4 not found; 5 not signed in or not "
    "allowed; 6 server unreachable or unavailable; 7 rate limited; 8 job failed; "
    "9 job cancelled; 10 still running at --timeout."
)

ERROR_CODES: list[tuple[type[TooljobsError], ExitCode]] = [
    (InvalidInput, ExitCode.USAGE),
    (NotFound, ExitCode.NOT_FOUND),
    (Unauthorized, ExitCode.UNAUTHORIZED),
    (Forbidden, ExitCode.UNAUTHORIZED),
    (Unreachable, ExitCode.UNREACHABLE),
    (ServiceUnavailable, ExitCode.UNREACHABLE),
    (RateLimited, ExitCode.RATE_LIMITED),
    (WaitTimeout, ExitCode.TIMED_OUT),
]

STATE_CODES: dict[str, ExitCode] = {
    "succeeded": ExitCode.DONE,
    "failed": ExitCode.JOB_FAILED,
    "cancelled": ExitCode.JOB_CANCELLED,
}

stderr = Console(stderr=True)
stdout = Console(highlight=False)


class UsageError(TooljobsError):
    """What was asked cannot be: ends with exit code 2."""


class Root(TyperGroup):
    """The root: a client error ends the command with one line on stderr and its exit
    code, and the plugins' commands load only when a command is not the client's (or
    for --help), so that people's commands start without importing the server."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is None and self._load_plugins():
            found = super().get_command(ctx, cmd_name)
        return found

    def list_commands(self, ctx: Any) -> list[str]:
        self._load_plugins()
        return super().list_commands(ctx)

    def _load_plugins(self) -> bool:
        """Add the plugins' commands, once; whether this call added them."""
        if getattr(self, "plugins_loaded", False):
            return False
        self.plugins_loaded = True
        _add_plugin_commands(self)
        return True

    # ctx is the Context of the click that typer vendors, which it does not export.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`| head`): nothing to say, and nowhere to say it.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(ExitCode.FAILED) from None
        except TooljobsError as error:
            if ctx.params.get("debug"):
                raise
            code = next((c for kind, c in ERROR_CODES if isinstance(error, kind)), None)
            if isinstance(error, UsageError):
                code = ExitCode.USAGE
            stderr.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
            if isinstance(error, RateLimited) and error.retry_after is not None:
                stderr.print(f"retry in {error.retry_after:g} s")
            raise typer.Exit(code or ExitCode.FAILED) from None


app = typer.Typer(
    cls=Root,
    help="tooljobs: run long tools as REST jobs. The first group of commands works on a "
    "server's API (log in first, or set TOOLJOBS_URL and TOOLJOBS_TOKEN or "
    "TOOLJOBS_API_KEY); the server's own commands are there where the server is installed.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Connection:
    """The server and credentials the root options chose, for the commands to use."""

    def __init__(self, url: str | None, token: str | None, api_key: str | None) -> None:
        self.stored = credentials.load()
        self.url = url or (self.stored.url if self.stored else DEFAULT_URL)
        self.token = token
        self.api_key = api_key
        # The kept token goes only to the server it came from.
        if not token and not api_key and self.stored and self.stored.url == self.url:
            self.token = self.stored.token

    def client(self) -> Client:
        if self.token and self.api_key:
            raise UsageError("give a token or an API key, not both")
        return Client(self.url, token=self.token, api_key=self.api_key)


@app.callback()
def options(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            envvar="TOOLJOBS_URL", help=f"The server (default: login's, else {DEFAULT_URL})."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="TOOLJOBS_TOKEN", help="A bearer token (default: login's)."),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="TOOLJOBS_API_KEY", help="An API key (tj_...).")
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="On an error, show its traceback.")
    ] = False,
) -> None:
    """tooljobs: run long tools as REST jobs."""
    ctx.obj = Connection(url, token, api_key)


JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
TimeoutOption = Annotated[
    float | None, typer.Option(help="With --wait: give up after this many seconds (exit 10).")
]


def _connection(ctx: typer.Context) -> Connection:
    connection = ctx.find_object(Connection)
    assert connection is not None, "the root callback sets it"
    return connection


@contextmanager
def _client(ctx: typer.Context) -> Iterator[Client]:
    with _connection(ctx).client() as client:
        yield client


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


@app.command(rich_help_panel=JOBS_PANEL)
def login(
    ctx: typer.Context,
    username: Annotated[str, typer.Option("--username", "-u", prompt="Email")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    as_json: JsonOption = False,
) -> None:
    """Sign in with your email and password, and keep the token for the next commands
    (in your config folder, readable by you alone)."""
    connection = _connection(ctx)
    with Client.login(connection.url, username, password) as client:
        assert client.token is not None
        path = credentials.save(credentials.Credentials(url=connection.url, token=client.token))
        email = client.me().get("email", username)
    if as_json:
        _print_json({"url": connection.url, "email": email, "credentials_file": str(path)})
    else:
        stdout.print(f"signed in to {connection.url} as {email} (token kept in {path})")


@app.command(rich_help_panel=JOBS_PANEL)
def logout(as_json: JsonOption = False) -> None:
    """Forget the token that `login` kept."""
    forgotten = credentials.forget()
    if as_json:
        _print_json({"forgotten": forgotten})
    else:
        stdout.print("token forgotten" if forgotten else "no token was kept")


@app.command(rich_help_panel=JOBS_PANEL)
def tools(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The tools the server runs (their inputs: `--json`, or the API's GET /tools/NAME)."""
    with _client(ctx) as client:
        found = client.tools()
    if as_json:
        _print_json([tool.raw for tool in found])
        return
    table = Table("tool", "version", "title", "inputs", box=None)
    for tool in found:
        properties = tool.inputs_schema.get("properties", {})
        required = set(tool.inputs_schema.get("required", []))
        inputs = ", ".join(
            f"{name}{'' if name in required else '?'}"
            + (" (file)" if name in tool.file_inputs else "")
            for name in properties
        )
        table.add_row(tool.name, tool.version, tool.title, inputs)
    stdout.print(table)


@app.command(rich_help_panel=JOBS_PANEL)
def submit(
    ctx: typer.Context,
    tool: Annotated[str, typer.Argument(help="The tool's name (`tooljobs tools`).")],
    values: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[KEY=VALUE]...",
            help="Inputs: text for a text input, else JSON when it parses (5, true, [1,2]).",
        ),
    ] = None,
    files: Annotated[
        list[str] | None,
        typer.Option("--file", "-f", metavar="KEY=PATH", help="Upload a file for an input."),
    ] = None,
    labels: Annotated[
        list[str] | None, typer.Option("--label", "-l", metavar="KEY=VALUE", help="A label.")
    ] = None,
    priority: Annotated[int | None, typer.Option(min=0, max=9, help="0 to 9 (5).")] = None,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Follow the job to its end.")] = False,
    timeout: TimeoutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Submit a job; with --wait, follow it with a progress bar and its messages, and
    exit with its outcome (0 succeeded, 8 failed, 9 cancelled)."""
    with _client(ctx) as client:
        try:
            described = client.tool(tool)
        except NotFound:
            raise UsageError(f"unknown tool {tool!r}; `tooljobs tools` lists them") from None
        inputs: dict[str, Any] = {}
        for key, raw in _pairs(values, "KEY=VALUE").items():
            inputs[key] = raw if described.input_type(key) == "string" else _json_or_text(raw)
        paths = {key: Path(path) for key, path in _pairs(files, "--file").items()}
        for path in paths.values():
            if not path.is_file():
                raise UsageError(f"no file {str(path)!r}")
        job = client.submit(
            tool, inputs, files=paths, labels=_pairs(labels, "--label"), priority=priority
        )
        if wait:
            _follow(job, timeout, quiet=as_json)
        _show_job(job, as_json)
        if wait:
            raise typer.Exit(STATE_CODES.get(job.state, ExitCode.FAILED))


@app.command("jobs", rich_help_panel=JOBS_PANEL)
def list_jobs(
    ctx: typer.Context,
    tool: Annotated[str | None, typer.Option(help="Only this tool's jobs.")] = None,
    state: Annotated[str | None, typer.Option(help="queued, running, succeeded, ...")] = None,
    label: Annotated[str | None, typer.Option(metavar="KEY:VALUE")] = None,
    limit: Annotated[int, typer.Option(min=0, help="At most this many (0: all).")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Your jobs, newest first."""
    found: list[Job] = []
    with _client(ctx) as client:
        for job in client.jobs(tool=tool, state=_state(state), label=label):
            found.append(job)
            if len(found) == limit:
                break
    if as_json:
        _print_json([job.raw for job in found])
        return
    table = Table("id", "tool", "state", "progress", "created", "message", box=None)
    for job in found:
        table.add_row(
            job.id,
            job.tool,
            _styled(job.state),
            f"{job.progress:.0%}",
            job.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            job.message or "",
        )
    stdout.print(table)


@app.command("job", rich_help_panel=JOBS_PANEL)
def show_job(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="ID")],
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Follow the job to its end.")] = False,
    timeout: TimeoutOption = None,
    as_json: JsonOption = False,
) -> None:
    """One job: state, inputs, outputs or error. With --wait, exit with its outcome."""
    with _client(ctx) as client:
        job = client.job(job_id)
        if wait:
            _follow(job, timeout, quiet=as_json)
    _show_job(job, as_json)
    if wait:
        raise typer.Exit(STATE_CODES.get(job.state, ExitCode.FAILED))


@app.command(rich_help_panel=JOBS_PANEL)
def logs(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="ID")],
    follow: Annotated[
        bool, typer.Option("--follow", "-F", help="Go on printing until the job ends.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The job's log (a command-line tool's stdout and stderr)."""
    with _client(ctx) as client:
        job = client.job(job_id)
        if as_json:
            text = "".join(job.follow_logs()) if follow else job.logs()
            _print_json({"id": job.id, "state": job.state, "lines": text.splitlines()})
            return
        for chunk in job.follow_logs() if follow else [job.logs()]:
            sys.stdout.write(chunk)
            sys.stdout.flush()


@app.command(rich_help_panel=JOBS_PANEL)
def cancel(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: JsonOption = False,
) -> None:
    """Cancel a job: a queued one at once, a running one within seconds (exit 1 when it
    had already ended)."""
    with _client(ctx) as client:
        job = client.job(job_id).cancel()
    if as_json:
        _print_json(job.raw)
    else:
        stdout.print(f"{job.id} {job.state}" + (" (stopping)" if not job.done else ""))


@app.command(rich_help_panel=JOBS_PANEL)
def download(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="ID")],
    name: Annotated[str | None, typer.Argument(help="One artifact (default: all).")] = None,
    output: Annotated[
        Path, typer.Option("--output-dir", "-o", file_okay=False, help="Folder to write to.")
    ] = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Download a job's artifacts, with a transfer bar."""
    written = []
    with _client(ctx) as client:
        job = client.job(job_id)
        artifacts = job.artifacts()
        if name is not None:
            artifacts = [artifact for artifact in artifacts if artifact.name == name]
            if not artifacts:
                raise NotFound(404, f"job {job.id} has no artifact {name!r}", httpx.Headers())
        output.mkdir(parents=True, exist_ok=True)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=stderr,
            disable=as_json,
        ) as progress:
            for artifact in artifacts:
                task = progress.add_task(artifact.name, total=artifact.size)

                def advance(done: int, _total: int | None, task: TaskID = task) -> None:
                    progress.update(task, completed=done)

                path = job.download(artifact.name, output, on_progress=advance)
                written.append({"name": artifact.name, "path": str(path), "size": artifact.size})
    if as_json:
        _print_json(written)
    else:
        for item in written:
            stdout.print(f"{item['path']} ({item['size']} bytes)")


def _follow(job: Job, timeout: float | None, *, quiet: bool) -> None:
    """Wait for the job, drawing its progress and printing each new message on stderr."""
    with Progress(
        TextColumn(f"{job.tool} {job.id[:8]}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
        console=stderr,
        disable=quiet,
    ) as progress:
        task = progress.add_task("", total=1.0, state=job.state)
        last_message = None
        for _ in job.watch(timeout):
            if job.message and job.message != last_message and not quiet:
                progress.console.print(f"  {job.message}", markup=False, highlight=False)
            last_message = job.message
            progress.update(
                task, completed=1.0 if job.state == "succeeded" else job.progress, state=job.state
            )


def _show_job(job: Job, as_json: bool) -> None:
    if as_json:
        _print_json(job.raw)
        return
    stdout.print(f"[bold]{job.id}[/] {job.tool} {_styled(job.state)} {job.progress:.0%}")
    if job.message:
        stdout.print(f"message: {job.message}", markup=False)
    stdout.print(f"inputs:  {json.dumps(job.inputs)}", markup=False)
    if job.outputs is not None:
        stdout.print(f"outputs: {json.dumps(job.outputs)}", markup=False)
    if job.error is not None:
        stdout.print(f"error:   {job.error.get('type')}: {job.error.get('message')}", markup=False)


def _styled(state: str) -> str:
    colour = {"succeeded": "green", "failed": "red", "cancelled": "yellow"}.get(state, "cyan")
    return f"[{colour}]{state}[/]"


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    pairs = {}
    for item in items or []:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise UsageError(f"{what}: {item!r} is not KEY=VALUE")
        pairs[key] = value
    return pairs


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _state(value: str | None) -> JobState | None:
    states = get_args(JobState)
    if value is not None and value not in states:
        raise UsageError(f"--state: {value!r} is none of {', '.join(states)}")
    return cast(JobState | None, value)


def _add_plugin_commands(root: TyperGroup) -> None:
    """The commands of the `tooljobs.commands` entry points (each a typer.Typer), at the
    top level. A name the client has already stays the client's: a plugin cannot shadow
    it (the server calls its in-process tools group `local-tools` for that reason)."""
    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            plugin = entry.load()
            group = typer.main.get_command(plugin)
        except Exception as error:
            stderr.print(
                f"warning: the commands of {entry.value} did not load: {error}", markup=False
            )
            continue
        if not isinstance(group, TyperGroup):
            continue
        for name, command in group.commands.items():
            if name in root.commands:
                stderr.print(f"warning: {entry.value} redefines `{name}`; left out", markup=False)
                continue
            root.add_command(command, name)


def main() -> None:
    """The `tooljobs` script."""
    app(prog_name="tooljobs")
