"""When staff are there to answer: business hours, and what to tell a customer outside them.

Pure: every function takes the moment it is about; nothing reads the clock.
`TOMO_BUSINESS_HOURS` ("09:00-18:00", or "24h"), `TOMO_BUSINESS_DAYS`
("mon-fri", "mon,wed,fri", "mon-sun") and `TOMO_TIMEZONE` ("Asia/Tokyo")
become one `BusinessHours`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_ALWAYS = {"24h", "always", "00:00-24:00"}


@dataclass(frozen=True)
class BusinessHours:
    """Opening time, closing time and open days, in one time zone."""

    opens: time
    closes: time
    days: frozenset[int]  # 0 = Monday
    zone: ZoneInfo
    always: bool = False

    @classmethod
    def parse(cls, hours: str, days: str = "mon-sun", zone: str = "Asia/Tokyo") -> BusinessHours:
        """Read the settings' forms; ValueError says what is wrong."""
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {zone!r} (e.g. Asia/Tokyo)") from error
        open_days = _parse_days(days)
        if hours.strip().lower() in _ALWAYS:
            return cls(time(0), time(0), frozenset(range(7)), tz, always=True)
        match = _HOURS.match(hours)
        if match is None:
            raise ValueError(f"business hours {hours!r} must look like 09:00-18:00 (or 24h)")
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(f"business hours {hours!r}: not a time of day")
        opens, closes = time(h1, m1), time(h2, m2)
        if closes <= opens:
            raise ValueError(f"business hours {hours!r}: closing must come after opening")
        return cls(opens, closes, open_days, tz)

    def is_open(self, at: datetime) -> bool:
        if self.always:
            return True
        local = at.astimezone(self.zone)
        return local.weekday() in self.days and self.opens <= local.time() < self.closes

    def next_opening(self, at: datetime) -> datetime:
        """The moment staff are next there: `at` itself when open now (UTC)."""
        if self.is_open(at):
            return at
        local = at.astimezone(self.zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            opening = datetime.combine(day, self.opens, tzinfo=self.zone)
            if day.weekday() in self.days and opening > local:
                return opening.astimezone(UTC)
        raise ValueError("no business day in the week")  # _parse_days forbids this

    def claim_due(self, opened_at: datetime, claim_after: timedelta) -> datetime:
        """When an unclaimed handoff is overdue: the claim time, counted from opening."""
        return self.next_opening(opened_at) + claim_after


def _parse_days(days: str) -> frozenset[int]:
    found: set[int] = set()
    for part in days.lower().replace(" ", "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError(f"business days {days!r}: use mon,tue,… or ranges like mon-fri")
        start = DAY_NAMES.index(first)
        end = DAY_NAMES.index(last) if last else start
        index = start
        while True:
            found.add(index)
            if index == end:
                break
            index = (index + 1) % 7
    if not found:
        raise ValueError(f"business days {days!r}: at least one day is needed")
    return frozenset(found)


@dataclass(frozen=True)
class WhenWords:
    """How a reply time is said (from bot/data/handoff.yaml)."""

    today: str  # "今日の{time}"
    tomorrow: str  # "明日の{time}"
    weekday: str  # "{day}の{time}"
    day_names: tuple[str, ...]  # 月曜日 … 日曜日
    time_format: str  # "{hour}時" / "{hour}時{minute}分"
    time_format_minutes: str


def say_when(now: datetime, opening: datetime, hours: BusinessHours, words: WhenWords) -> str:
    """ "明日の9時", "今日の9時", "月曜日の9時30分": when staff will be there, in words."""
    here = now.astimezone(hours.zone)
    there = opening.astimezone(hours.zone)
    template = words.time_format_minutes if there.minute else words.time_format
    clock = template.format(hour=there.hour, minute=f"{there.minute:02d}")
    days = (there.date() - here.date()).days
    if days <= 0:
        return words.today.format(time=clock)
    if days == 1:
        return words.tomorrow.format(time=clock)
    return words.weekday.format(day=words.day_names[there.weekday()], time=clock)
