"""The server and token that `tooljobs login` keeps for the next commands: a JSON file
in the user's config folder (`~/.config/tooljobs/credentials.json` on Linux, after
XDG_CONFIG_HOME), readable by its owner alone."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import typer

FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str


def credentials_file() -> Path:
    return Path(typer.get_app_dir("tooljobs")) / FILE_NAME


def load() -> Credentials | None:
    """What `login` kept, if anything (a file that cannot be read counts as none)."""
    try:
        data = json.loads(credentials_file().read_text())
        return Credentials(url=str(data["url"]), token=str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(credentials: Credentials) -> Path:
    """Write the file with mode 0600 from its first byte (its folder 0700)."""
    path = credentials_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # A file that existed keeps its mode through O_CREAT: set it in any case.
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"url": credentials.url, "token": credentials.token}, file)
    return path


def forget() -> bool:
    """Delete the file; whether there was one."""
    try:
        credentials_file().unlink()
    except FileNotFoundError:
        return False
    return True
