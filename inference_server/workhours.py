"""Deadlines in working hours: the clock runs only in the working periods of working days, in the city's zone.

Working days are the configured weekdays, minus public holidays (法定节假日), plus the weekend days worked in their
place (调休上班) — both lists come from the State Council's yearly notice and are entered by the city.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field


class WorkingCalendar(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    timezone: str = "Asia/Shanghai"
    working_days: tuple[int, ...] = Field(default=(0, 1, 2, 3, 4), description="Monday = 0")
    working_periods: tuple[tuple[str, str], ...] = (("08:30", "12:00"), ("13:30", "17:30"))
    holidays: frozenset[date] = Field(default=frozenset(), description="days off even on a working weekday")
    workdays: frozenset[date] = Field(default=frozenset(), description="weekend days worked (调休上班)")

    def working(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() in self.working_days

    def add(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` working hours after `start` (an aware datetime); returned in UTC."""
        zone = ZoneInfo(self.timezone)
        moment = start.astimezone(zone)
        left = timedelta(hours=hours)
        periods = [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in self.working_periods]
        for _ in range(366 * len(periods) + 1):  # a year of periods at most
            if self.working(moment.date()):
                for begin, end in periods:
                    open_at = datetime.combine(moment.date(), begin, zone)
                    close_at = datetime.combine(moment.date(), end, zone)
                    if moment >= close_at:
                        continue
                    moment = max(moment, open_at)
                    available = close_at - moment
                    if left <= available:
                        return (moment + left).astimezone(UTC)
                    left -= available
                    moment = close_at
            moment = datetime.combine(moment.date() + timedelta(days=1), time(0), zone)
        raise ValueError("no working time within a year: check working_days and working_periods")
