"""The `tooljobs` script: the command line when the `cli` extra is installed, else a line
saying how to install it (as httpx's own script does)."""

import sys


def main() -> None:
    try:
        from tooljobs_client.cli import main as command
    except ModuleNotFoundError as error:
        if error.name not in ("typer", "rich", "click"):
            raise
        sys.stderr.write(
            f"tooljobs: the command needs {error.name}, which comes with the cli extra:\n"
            "    pip install 'tooljobs-client[cli]'\n"
        )
        raise SystemExit(1) from None
    command()
