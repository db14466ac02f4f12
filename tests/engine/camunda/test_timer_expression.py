"""When Camunda timers are due, from a fixed arming time (Friday 2026-01-16 10:02:30 UTC)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from engine.camunda.timer_expression import (
    TimerSchedule,
    check_literal,
    quartz_to_croniter,
    schedule,
)
from engine.errors import ExpressionError

START = datetime(2026, 1, 16, 10, 2, 30, tzinfo=UTC)  # a Friday


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def firings(s: TimerSchedule | None, limit: int = 10) -> list[datetime]:
    """Due times of a schedule, firing each one exactly when due."""
    out = []
    while s is not None and len(out) < limit:
        out.append(s.first_due)
        s = s.next_after(s.first_due)
    return out


def roundtrip(s: TimerSchedule) -> TimerSchedule:
    return TimerSchedule.from_json(json.loads(json.dumps(s.to_json())))


# ---- timeDate ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "due"),
    [
        ("2026-12-01T10:00:00Z", at(2026, 12, 1, 10)),
        ("2026-12-01T10:00:00", at(2026, 12, 1, 10)),  # no zone: read as UTC
        ("2026-12-01T12:00:00+02:00", at(2026, 12, 1, 10)),
        ("2026-12-01", at(2026, 12, 1)),
        (" 2026-12-01T10:00:00.250Z ", at(2026, 12, 1, 10, 0, 0, 250000)),
        (datetime(2026, 12, 1, 10), at(2026, 12, 1, 10)),
        (
            datetime(2026, 12, 1, 11, tzinfo=timezone(timedelta(hours=1))),
            at(2026, 12, 1, 10),
        ),
        (date(2026, 12, 1), at(2026, 12, 1)),
    ],
)
def test_time_date_fires_once_at_that_moment(value, due):
    s = schedule("date", value, START)
    assert (s.kind, s.first_due, s.remaining) == ("date", due, 0)
    assert s.first_due.tzinfo == UTC
    assert s.next_after(due) is None


def test_time_date_in_the_past_is_due_immediately():
    assert schedule("date", "2020-01-01", START).first_due < START


@pytest.mark.parametrize(
    "value", ["tomorrow", "", "2026-13-01", "01/12/2026", timedelta(1)]
)
def test_bad_time_date_names_the_value(value):
    with pytest.raises(ExpressionError, match="timeDate"):
        schedule("date", value, START)


# ---- timeDuration ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "due"),
    [
        ("PT1H", at(2026, 1, 16, 11, 2, 30)),
        ("P30D", at(2026, 2, 15, 10, 2, 30)),
        ("P1M", at(2026, 2, 16, 10, 2, 30)),
        ("P1Y2M3DT4H5M6S", at(2027, 3, 19, 14, 7, 36)),
        ("P2W", at(2026, 1, 30, 10, 2, 30)),
        ("PT0.5S", at(2026, 1, 16, 10, 2, 30, 500000)),
        ("PT0S", START),
        (timedelta(minutes=90), at(2026, 1, 16, 11, 32, 30)),
    ],
)
def test_time_duration_is_counted_from_arming(value, due):
    s = schedule("duration", value, START)
    assert (s.kind, s.first_due, s.remaining) == ("duration", due, 0)
    assert s.next_after(due) is None


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (at(2026, 1, 31, 9), at(2026, 2, 28, 9)),
        (at(2028, 1, 31, 9), at(2028, 2, 29, 9)),  # leap year
        (at(2026, 3, 31), at(2026, 4, 30)),
    ],
)
def test_one_month_is_calendar_correct(start, due):
    assert schedule("duration", "P1M", start).first_due == due


def test_naive_arming_time_is_read_as_utc():
    assert schedule("duration", "PT1H", datetime(2026, 1, 1)).first_due == at(
        2026, 1, 1, 1
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1 hour", "not an ISO 8601 duration"),
        ("P", "not an ISO 8601 duration"),
        ("-PT1H", "negative"),
        ("P0.5M", "fractional years or months"),
        (datetime(2026, 1, 1), "not a duration"),
    ],
)
def test_bad_time_duration(value, message):
    with pytest.raises(ExpressionError, match=message):
        schedule("duration", value, START)


# ---- timeCycle: ISO 8601 repeating intervals ---------------------------------


def test_r3_fires_three_times_ten_minutes_apart():
    s = schedule("cycle", "R3/PT10M", START)
    assert (s.first_due, s.remaining) == (at(2026, 1, 16, 10, 12, 30), 2)
    assert firings(s) == [
        at(2026, 1, 16, 10, 12, 30),
        at(2026, 1, 16, 10, 22, 30),
        at(2026, 1, 16, 10, 32, 30),
    ]


def test_unbounded_daily_cycle_keeps_going():
    s = schedule("cycle", "R/P1D", START)
    assert s.remaining is None
    assert firings(s, 4) == [at(2026, 1, d, 10, 2, 30) for d in (17, 18, 19, 20)]


def test_cycle_with_start_date_fires_from_that_date():
    s = schedule("cycle", "R2/2026-12-01T10:00:00Z/PT1H", START)
    assert (s.first_due, s.remaining) == (at(2026, 12, 1, 10), 1)
    assert firings(s) == [at(2026, 12, 1, 10), at(2026, 12, 1, 11)]


def test_cycle_with_start_and_end_uses_the_gap_as_interval():
    s = schedule("cycle", "R2/2026-12-01T10:00:00Z/2026-12-01T10:30:00Z", START)
    assert s.interval == "PT30M"
    assert firings(s) == [at(2026, 12, 1, 10), at(2026, 12, 1, 10, 30)]


def test_cycle_started_in_the_past_skips_missed_repetitions():
    s = schedule("cycle", "R5/2026-01-16T08:00:00Z/PT1H", START)
    assert firings(s) == [at(2026, 1, 16, 11), at(2026, 1, 16, 12)]


def test_monthly_cycle_stays_on_the_last_day_of_month():
    s = schedule("cycle", "R4/2026-01-31T09:00:00Z/P1M", at(2026, 1, 1))
    assert firings(s) == [
        at(2026, 1, 31, 9),
        at(2026, 2, 28, 9),
        at(2026, 3, 31, 9),
        at(2026, 4, 30, 9),
    ]


def test_long_past_start_finds_the_next_repetition():
    s = schedule("cycle", "R/2020-01-31T00:00:00Z/P1M", START)
    assert firings(s, 2) == [at(2026, 1, 31), at(2026, 2, 28)]
    s = schedule("cycle", "R/2000-01-01T00:00:00Z/PT1S", START)
    assert s.first_due == START


def test_evaluated_timedelta_cycle_repeats_forever():
    s = schedule("cycle", timedelta(hours=2), START)
    assert s.remaining is None
    assert firings(s, 2) == [at(2026, 1, 16, 12, 2, 30), at(2026, 1, 16, 14, 2, 30)]


def test_late_firing_of_iso_cycle_keeps_the_original_rhythm():
    s = schedule("cycle", "R/PT10M", START)
    late = s.next_after(s.first_due + timedelta(minutes=3))
    assert late is not None and late.first_due == at(2026, 1, 16, 10, 22, 30)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("R0/PT1H", "repeats zero times"),
        ("R/PT0S", "positive interval"),
        ("R3/PT1X", "not an ISO 8601 duration"),
        ("R2/2020-01-01T00:00:00Z/PT1H", "already in the past"),
        ("R2/2026-12-01T10:00:00Z/2026-12-01T09:00:00Z", "positive interval"),
        ("R2/PT1H/2026-12-01T10:00:00Z", r"must be R\[n\]/duration"),
        ("R2/soon/PT1H", "start"),
        ("every hour", "neither an ISO 8601 repeating interval"),
        (datetime(2026, 1, 1), "not text"),
    ],
)
def test_bad_cycles(value, message):
    with pytest.raises(ExpressionError, match=message):
        schedule("cycle", value, START)


# ---- timeCycle: Quartz cron --------------------------------------------------


def test_quartz_every_five_minutes():
    s = schedule("cycle", "0 0/5 * * * ?", START)
    assert (s.first_due, s.remaining, s.cron) == (
        at(2026, 1, 16, 10, 5),
        None,
        "0 0/5 * * * ?",
    )
    assert firings(s, 3) == [at(2026, 1, 16, 10, m) for m in (5, 10, 15)]


def test_quartz_every_five_seconds():
    s = schedule("cycle", "0/5 0/1 * 1/1 * ?", START)
    assert firings(s, 3) == [at(2026, 1, 16, 10, 2, sec) for sec in (35, 40, 45)]


def test_quartz_weekdays_at_nine_skip_the_weekend():
    s = schedule("cycle", "0 0 9 ? * MON-FRI", START)  # armed on a Friday after 9:00
    assert firings(s, 3) == [at(2026, 1, 19, 9), at(2026, 1, 20, 9), at(2026, 1, 21, 9)]


def test_quartz_numbers_sunday_as_one():
    weekdays = schedule("cycle", "0 0 9 ? * 2-6", START)
    assert weekdays.first_due == at(2026, 1, 19, 9)  # Monday, like MON-FRI
    sunday = schedule("cycle", "0 0 9 ? * 1", START)
    assert sunday.first_due == at(2026, 1, 18, 9)
    saturday = schedule("cycle", "0 0 9 ? * 7", START)
    assert saturday.first_due == at(2026, 1, 17, 9)


@pytest.mark.parametrize(
    ("quartz", "croniter_text"),
    [
        ("0 0/5 * * * ?", "0 0/5 * * * *"),
        ("0 0 9 ? * MON-FRI", "0 0 9 * * MON-FRI"),
        ("0 0 9 ? * 2-6", "0 0 9 * * 1-5"),
        ("0 0 9 ? * 1,7", "0 0 9 * * 0,6"),
        ("0 0 9 ? * 6L", "0 0 9 * * L5"),
        ("0 0 9 ? * 2#1", "0 0 9 * * 1#1"),
        ("0 0 9 ? * 1/2", "0 0 9 * * 0/2"),
        ("0 0 12 L * ?", "0 0 12 L * *"),
        ("0 0 9 ? * * 2027", "0 0 9 * * * 2027"),
    ],
)
def test_quartz_conversion(quartz, croniter_text):
    assert quartz_to_croniter(quartz) == croniter_text


def test_quartz_special_days():
    assert schedule("cycle", "0 0 9 ? * 6L", START).first_due == at(
        2026, 1, 30, 9
    )  # last Fri
    assert schedule("cycle", "0 0 9 ? * 2#1", START).first_due == at(
        2026, 2, 2, 9
    )  # 1st Mon
    assert schedule("cycle", "0 0 12 L * ?", START).first_due == at(2026, 1, 31, 12)
    assert schedule("cycle", "0 0 9 ? * * 2027", START).first_due == at(2027, 1, 1, 9)


def test_cron_next_after_a_late_firing_skips_missed_times():
    s = schedule("cycle", "0 0/5 * * * ?", START)
    nxt = s.next_after(at(2026, 1, 16, 10, 17, 1))
    assert nxt is not None and nxt.first_due == at(2026, 1, 16, 10, 20)


def test_cron_arming_exactly_on_a_fire_time_waits_for_the_next():
    assert schedule("cycle", "0 0/5 * * * ?", at(2026, 1, 1, 10, 5)).first_due == at(
        2026, 1, 1, 10, 10
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0 0 9 * *", "neither"),  # five-field Unix cron is not Quartz
        ("0 0 9 ? * ?", "only one of"),
        ("0 0 9 1 * MON", "put '?'"),
        ("0 0 9 ? * 0", "1 \\(SUN\\) to 7 \\(SAT\\)"),
        ("0 0 9 ? * 8", "1 \\(SUN\\) to 7 \\(SAT\\)"),
        ("0 H 9 ? * *", "not Quartz syntax"),
        ("0 0 25 ? * *", "not a usable cron expression"),
        ("0 0 9 ? * * 2020", "not a usable cron expression"),
    ],
)
def test_bad_cron(value, message):
    with pytest.raises(ExpressionError, match=message):
        schedule("cycle", value, START)


# ---- persistence and deploy-time checks ----------------------------------------


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("date", "2026-12-01T10:00:00Z"),
        ("duration", "PT0.25S"),
        ("cycle", "R3/PT10M"),
        ("cycle", "R/2020-01-31T00:00:00Z/P1M"),
        ("cycle", "0 0 9 ? * MON-FRI"),
    ],
)
def test_json_round_trip_is_exact_and_keeps_continuing(kind, value):
    s = schedule(kind, value, START)
    again = roundtrip(s)
    assert again == s
    assert firings(again, 4) == firings(s, 4)
    nxt = s.next_after(s.first_due)
    if nxt is not None:
        assert roundtrip(nxt) == nxt


def test_json_keeps_cron_text_and_interval():
    assert (
        schedule("cycle", "0 0/5 * * * ?", START).to_json()["cron"] == "0 0/5 * * * ?"
    )
    assert schedule("cycle", "R3/P1M", START).to_json()["interval"] == "P1M"


def test_check_literal_accepts_good_and_rejects_bad_syntax():
    check_literal("date", "2026-12-01")
    check_literal("duration", "P1D")
    check_literal("cycle", "R/PT5M")
    check_literal("cycle", "0 0 9 ? * MON-FRI")
    with pytest.raises(ExpressionError, match="'PT5'"):
        check_literal("duration", "PT5")
    with pytest.raises(ExpressionError):
        check_literal("cycle", "0 0 9 * * MON-FRI-SAT")


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown timer kind"):
        schedule("later", "PT1H", START)
