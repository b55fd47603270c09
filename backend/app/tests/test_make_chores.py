"""The Makefile's compose chores: each prints the one compose command it runs, the README
shows that command, and the command behind `docker compose exec` does its work.

No Docker engine runs here, so `docker` on the PATH of these runs is a stand-in that
runs `compose exec [--user U] SERVICE COMMAND...` as a plain process in the service's
working directory: what runs is the Makefile's own line, quoting included.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import make_url

from tests.support.environment import TEST_DATABASE_URL
from tests.support.paths import PROJECT_DIR, REPO_ROOT
from tests.support.users import make_user

CHORES = {
    "migration m='add a column'": [
        'docker compose exec --user "$(id -u):$(id -g)" backend alembic revision'
        ' --autogenerate -m "add a column"'
    ],
    "upgrade": ["docker compose exec backend alembic upgrade head"],
    "downgrade": ["docker compose exec backend alembic downgrade -1"],
    "shell": ["docker compose exec backend bash"],
    "psql": ['docker compose exec db sh -c \'exec psql -U "$POSTGRES_USER" -d "$POSTGRES_DB"\''],
    "console": ["docker compose exec backend tooljobs console"],
    "sql-log": [
        "LOG_SQL=true docker compose up -d backend worker",
        "docker compose logs --follow backend worker",
    ],
}

DOCKER_STAND_IN = """\
#!{python}
import os, sys
arguments = sys.argv[1:]
if arguments[:2] != ["compose", "exec"]:
    sys.exit(f"the stand-in runs `compose exec` only, not {{arguments}}")
arguments = arguments[2:]
if arguments[0] == "--user":
    arguments = arguments[2:]
service, command = arguments[0], arguments[1:]
os.chdir(os.environ["WORKDIR_" + service.upper()])
os.execvp(command[0], command)
"""


@pytest.mark.parametrize("chore", CHORES)
def test_each_chore_prints_the_compose_command_it_runs(chore: str) -> None:
    result = subprocess.run(
        f"make --no-print-directory -n {chore}",
        shell=True,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == CHORES[chore]
    readme = (REPO_ROOT / "README.md").read_text()
    assert CHORES[chore][0] in readme, "the README shows the command"


def test_a_migration_needs_a_message() -> None:
    result = subprocess.run(
        ["make", "-n", "migration"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert 'make migration m="add a column"' in result.stderr


@pytest.fixture
def backend_folder(tmp_path: Path) -> Path:
    """The backend's working directory with its migrations, less the newest one: a model
    then differs from the database, as after a developer's change."""
    folder = tmp_path / "backend"
    folder.mkdir()
    shutil.copy(PROJECT_DIR / "alembic.ini", folder)
    shutil.copytree(
        PROJECT_DIR / "alembic", folder / "alembic", ignore=shutil.ignore_patterns("__pycache__")
    )
    (folder / "alembic" / "versions" / newest_revision().name).unlink()
    return folder


def newest_revision() -> Path:
    scripts = ScriptDirectory.from_config(Config(str(PROJECT_DIR / "alembic.ini")))
    head = scripts.get_revision(scripts.get_current_head())
    assert head is not None
    assert head.path is not None
    return Path(head.path)


def created_names(revision: str) -> set[str]:
    """The tables and columns a revision's operations create."""
    return set(re.findall(r"""(?:create_table|sa\.Column)\(\s*["'](\w+)["']""", revision))


def make(chore: str, tmp_path: Path, backend: Path, stdin: str = "", **env: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    docker = bin_dir / "docker"
    docker.write_text(DOCKER_STAND_IN.format(python=sys.executable))
    docker.chmod(0o755)
    result = subprocess.run(
        f"make --no-print-directory {chore}",
        shell=True,
        cwd=REPO_ROOT,
        input=stdin,
        env={
            **os.environ,
            "PATH": os.pathsep.join(
                [str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]]
            ),
            "WORKDIR_BACKEND": str(backend),
            "WORKDIR_DB": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_migration_upgrade_and_downgrade_write_and_run_revisions(
    backend_folder: Path, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'chores.db'}"
    make("upgrade", tmp_path, backend_folder, DATABASE_URL=database)
    output = make("migration m='the newest again'", tmp_path, backend_folder, DATABASE_URL=database)
    assert "Generating" in output
    written = list((backend_folder / "alembic" / "versions").glob("*the_newest_again*.py"))
    assert len(written) == 1, output
    # What the left-out revision made, written again from the models.
    made = created_names(newest_revision().read_text())
    assert made, "the newest revision creates no table or column"
    assert made <= created_names(written[0].read_text())
    assert "Running upgrade" in make("upgrade", tmp_path, backend_folder, DATABASE_URL=database)
    assert "Running downgrade" in make("downgrade", tmp_path, backend_folder, DATABASE_URL=database)


def test_psql_opens_the_application_database(backend_folder: Path, tmp_path: Path) -> None:
    url = make_url(TEST_DATABASE_URL)
    output = make(
        "psql",
        tmp_path,
        backend_folder,
        stdin="select current_database(), 40 + 2;\n",
        POSTGRES_USER=str(url.username),
        POSTGRES_DB=str(url.database),
        PGHOST=str(url.host),
        PGPORT=str(url.port or 5432),
    )
    rows = [[cell.strip() for cell in line.split("|")] for line in output.splitlines()]
    assert [str(url.database), "42"] in rows, output


def test_console_has_a_session_and_the_models(backend_folder: Path, tmp_path: Path) -> None:
    make_user("console@example.com")
    script = (
        'print(session.scalars(select(User.email).where(User.email.like("console@%"))).one())\n'
    )
    output = make("console", tmp_path, backend_folder, stdin=script)
    assert "console@example.com" in output


def test_shell_is_bash_in_the_backend(backend_folder: Path, tmp_path: Path) -> None:
    output = make("shell", tmp_path, backend_folder, stdin="echo $((6 * 7)) $PWD\n")
    assert f"42 {backend_folder}" in output
