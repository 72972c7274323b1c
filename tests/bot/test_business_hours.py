"""Business hours: when staff answer, and how that is said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.business_hours import BusinessHours, say_when
from bot.handoff_words import handoff_words

TOKYO_WEEKDAYS = BusinessHours.parse("09:00-18:00", "mon-fri", "Asia/Tokyo")


def tokyo(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026, Tokyo time (the 23rd is a Monday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=9)


@pytest.mark.parametrize(
    ("moment", "open_now"),
    [
        (tokyo(24, 9), True),
        (tokyo(24, 17, 59), True),
        (tokyo(24, 18), False),
        (tokyo(24, 8, 59), False),
        (tokyo(28, 12), False),  # Saturday
    ],
)
def test_open_within_hours_on_business_days(moment: datetime, open_now: bool) -> None:
    assert TOKYO_WEEKDAYS.is_open(moment) is open_now


def test_the_next_opening_skips_the_weekend() -> None:
    assert TOKYO_WEEKDAYS.next_opening(tokyo(27, 20)) == tokyo(30, 9)


def test_the_claim_time_counts_from_the_opening() -> None:
    due = TOKYO_WEEKDAYS.claim_due(tokyo(24, 23), timedelta(minutes=15))
    assert due == tokyo(25, 9, 15)


def test_24h_is_always_open() -> None:
    always = BusinessHours.parse("24h")
    assert always.is_open(tokyo(28, 3)) and always.next_opening(tokyo(28, 3)) == tokyo(28, 3)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (tokyo(24, 6), "今日の9時"),
        (tokyo(24, 22), "明日の9時"),
        (tokyo(27, 22), "月曜日の9時"),
    ],
)
def test_when_staff_answer_is_said_in_japanese(now: datetime, expected: str) -> None:
    opening = TOKYO_WEEKDAYS.next_opening(now)
    assert say_when(now, opening, TOKYO_WEEKDAYS, handoff_words().when) == expected


def test_minutes_are_said_when_the_opening_has_them() -> None:
    hours = BusinessHours.parse("09:30-18:00", "mon-sun", "Asia/Tokyo")
    now = tokyo(24, 22)
    assert say_when(now, hours.next_opening(now), hours, handoff_words().when) == "明日の9時30分"


@pytest.mark.parametrize(
    ("hours", "days", "zone"),
    [
        ("9-18", "mon-fri", "Asia/Tokyo"),
        ("18:00-09:00", "mon", "Asia/Tokyo"),
        ("09:00-18:00", "weekdays", "Asia/Tokyo"),
        ("09:00-18:00", "mon", "Mars/Olympus"),
    ],
)
def test_unreadable_settings_are_refused(hours: str, days: str, zone: str) -> None:
    with pytest.raises(ValueError):
        BusinessHours.parse(hours, days, zone)


def test_day_ranges_wrap_around_the_week() -> None:
    assert BusinessHours.parse("09:00-18:00", "sat-mon").days == frozenset({5, 6, 0})
