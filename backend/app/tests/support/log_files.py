"""Reading the log file of a process that is still writing it."""

from pathlib import Path


def whole_lines(log: Path) -> list[str]:
    """The log's non-blank lines whose newline is written: a long line can be read halfway
    through its write, and is a line only once it ends."""
    text = log.read_text()
    written = text[: text.rfind("\n") + 1]
    return [line for line in written.splitlines() if line.strip()]
