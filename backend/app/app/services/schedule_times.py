"""When a schedule runs next: cron in the schedule's time zone, or a fixed interval."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from app.models.schedule import Schedule


def next_run_after(schedule: Schedule, moment: datetime) -> datetime | None:
    """The first slot strictly after `moment` and not before start_at; None past end_at.

    After downtime this is the next slot from now, not every slot missed: a schedule
    runs once for all the slots it missed.
    """
    if schedule.start_at is not None and moment < schedule.start_at:
        moment = schedule.start_at - timedelta(microseconds=1)
    if schedule.cron is not None:
        slot = _next_cron_slot(schedule.cron, ZoneInfo(schedule.timezone), moment)
    else:
        assert schedule.interval_seconds is not None
        origin = schedule.start_at or schedule.created_at
        elapsed = (moment - origin).total_seconds()
        periods = int(elapsed // schedule.interval_seconds) + 1 if elapsed >= 0 else 0
        slot = origin + timedelta(seconds=periods * schedule.interval_seconds)
    if schedule.end_at is not None and slot > schedule.end_at:
        return None
    return slot


def _next_cron_slot(cron: str, zone: ZoneInfo, moment: datetime) -> datetime:
    """Cron on the zone's wall clock: 02:00 runs once on the night clocks go back (at the
    first 02:00), and at 03:00 on the night 02:00 does not exist."""
    wall_clock = croniter(cron, moment.astimezone(zone).replace(tzinfo=None))
    while True:
        local: datetime = wall_clock.get_next(datetime)
        slot = local.replace(tzinfo=zone).astimezone(UTC)
        if slot > moment:
            return slot
