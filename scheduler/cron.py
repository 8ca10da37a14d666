"""Cron expressions as users write them, turned into APScheduler triggers.

Five fields (``minute hour day month weekday``, weekday 0 or 7 = Sunday, as in crontab), six fields
with seconds first (``second minute hour day month weekday``), or ``@hourly``/``@daily``/
``@weekly``/``@monthly``. Times are Europe/Amsterdam unless a time zone is given.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from archive.errors import BewaarError, Word

TIMEZONE = ZoneInfo("Europe/Amsterdam")
ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
_DOW_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]
HELP = Word(
    "use 5 fields 'minute hour day month weekday' (e.g. '0 3 * * *' = daily at 03:00), "
    "6 fields with seconds first (e.g. '*/30 * * * * *'), or @hourly/@daily/@weekly/@monthly"
)  # a Word: the web app shows it translated inside the messages below


class ScheduleError(BewaarError):
    """A schedule could not be set: a malformed cron expression or an unknown site or source."""


def _crontab_weekdays(field: str) -> str:
    """Crontab counts weekdays from Sunday = 0; APScheduler from Monday = 0. Use names."""

    def name(match: re.Match[str]) -> str:
        n = int(match.group(0))
        if n > 7:
            raise ScheduleError("weekday %(n)s is out of range 0-7", n=n)
        return _DOW_NAMES[n]

    return re.sub(r"(?<![/\d])\d+", name, field)


def parse_cron(expr: str, timezone: ZoneInfo = TIMEZONE) -> CronTrigger:
    """Return the trigger for ``expr`` or raise ``ScheduleError`` saying what is wrong."""
    text = " ".join(expr.split())
    text = ALIASES.get(text.lower(), text)
    fields = text.split(" ") if text else []
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ScheduleError("bad cron expression %(cron)r: %(n)s fields; %(help)s", cron=expr,
                            n=len(fields), help=HELP)
    second, minute, hour, day, month, dow = fields
    try:
        trigger = CronTrigger(
            second=second, minute=minute, hour=hour, day=day, month=month,
            day_of_week=_crontab_weekdays(dow), timezone=timezone,
        )
    except ScheduleError as exc:
        raise ScheduleError("bad cron expression %(cron)r: %(reason)s; %(help)s", cron=expr,
                            reason=str(exc), help=HELP) from None
    except (ValueError, TypeError) as exc:
        raise ScheduleError("bad cron expression %(cron)r: %(reason)s; %(help)s", cron=expr,
                            reason=str(exc), help=HELP) from None
    if trigger.get_next_fire_time(None, datetime.now(timezone)) is None:
        raise ScheduleError("cron expression %(cron)r never fires", cron=expr)
    return trigger


def next_fire(expr: str) -> datetime | None:
    """When ``expr`` fires next (None for a bad expression)."""
    try:
        trigger = parse_cron(expr)
    except ScheduleError:
        return None
    return trigger.get_next_fire_time(None, datetime.now(TIMEZONE))
