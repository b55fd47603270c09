"""The worker's whole process group SIGKILLed, as its machine dying looks to a Redis
broker, at each moment of a job (tests/support/group_kills.py): every job runs again or
fails worker_lost within WORKER_LOST_AFTER_SECONDS and a reaper period of a worker
being there, and none runs twice. Before the start, the message the dead worker took
waits in kombu's unacknowledged hash: the reaper gives it back."""

from pathlib import Path
from typing import Any

import pytest

from tests.support import group_kills
from tests.support.fault_stack import STACK_SETTINGS, Stack

# The last sign of life of the dead worker (the message it took, or its heartbeat) is a
# window old a window after the kill at the latest; the next reaper run acts on it (once
# a new worker is there); plus a margin for a loaded machine.
BOUND = (
    float(STACK_SETTINGS["WORKER_LOST_AFTER_SECONDS"])
    + float(STACK_SETTINGS["REAPER_INTERVAL_SECONDS"])
    + 6
)


@pytest.mark.parametrize(
    "moment",
    [
        group_kills.killed_before_start,
        group_kills.killed_while_running,
        group_kills.killed_while_reporting_the_end,
    ],
    ids=["before-start", "while-running", "reporting-the-end"],
)
def test_worker_group_killed_every_job_ends_within_the_bound_once(
    stack: Stack, observe: Any, tmp_path: Path, moment: Any
) -> None:
    took = moment(stack, tmp_path, BOUND)
    observe(
        f"both jobs ended {took:.1f}s after the kill, less a new worker's start "
        f"(bound {BOUND:.1f}s)"
    )
