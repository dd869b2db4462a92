"""Case deadlines run on working hours of the city's calendar."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from inference_server.cases import CityRules
from inference_server.workhours import WorkingCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkingCalendar()  # 08:30-12:00 and 13:30-17:30, Monday to Friday


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_hours_count_only_in_working_periods() -> None:
    # Friday 2026-11-27 10:00 + 2 h: 10:00-12:00
    assert CALENDAR.add(_local(2026, 11, 27, 10, 0), 2) == _local(2026, 11, 27, 12, 0).astimezone(UTC)
    # + 3 h: 2 h before lunch, 1 h after it
    assert CALENDAR.add(_local(2026, 11, 27, 10, 0), 3) == _local(2026, 11, 27, 14, 30).astimezone(UTC)
    # Friday 17:00 + 4 h: 30 min on Friday, then Monday from 08:30 → 12:00 (3.5 h)
    assert CALENDAR.add(_local(2026, 11, 27, 17, 0), 4) == _local(2026, 11, 30, 12, 0).astimezone(UTC)
    # filed on Saturday night: the clock starts on Monday morning
    assert CALENDAR.add(_local(2026, 11, 28, 22, 0), 1) == _local(2026, 11, 30, 9, 30).astimezone(UTC)


def test_the_configured_class_deadlines() -> None:
    deadline = CityRules.load().deadline  # the shipped deadlines.yaml
    filed = _local(2026, 11, 27, 9, 0).astimezone(UTC)  # Friday morning
    assert deadline("street_stall", filed) == _local(2026, 11, 27, 10, 0).astimezone(UTC)  # 1 working hour
    assert deadline("overflowing_bin", filed) == _local(2026, 11, 27, 11, 0).astimezone(UTC)  # 2
    # 40 working hours: 7 on Friday from 09:00, 7.5 a day Monday to Thursday, 3 on the next Friday
    assert deadline("dirty_facade", filed) == _local(2026, 12, 4, 11, 30).astimezone(UTC)


def test_public_holidays_stop_the_clock_and_make_up_weekend_days_run_it() -> None:
    # a made-up holiday week: Monday 30 Nov to Wednesday 2 Dec off, Saturday 5 Dec worked in their place
    calendar = WorkingCalendar.model_validate(
        {"holidays": ["2026-11-30", "2026-12-01", "2026-12-02"], "workdays": ["2026-12-05"]}
    )
    # Friday 17:00 + 4 h: 30 min on Friday, the holidays skipped, then Thursday 08:30 → 12:00
    assert calendar.add(_local(2026, 11, 27, 17, 0), 4) == _local(2026, 12, 3, 12, 0).astimezone(UTC)
    # Friday 4 Dec 17:00 + 1 h: 30 min on Friday, 30 min on the make-up Saturday
    assert calendar.add(_local(2026, 12, 4, 17, 0), 1) == _local(2026, 12, 5, 9, 0).astimezone(UTC)
    assert not calendar.working(_local(2026, 12, 1, 0, 0).date()) and calendar.working(_local(2026, 12, 5).date())


def test_a_city_sets_its_own_rules_read_once_at_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`STREETWATCH_DEADLINES` / `STREETWATCH_DEPARTMENTS`: the server reads them when it starts, not per request;
    a file without a default deadline stops the start with the reason."""
    import pytest
    import yaml
    from pydantic import ValidationError

    from inference_server.app import create_app
    from inference_server.cases import DEADLINES
    from inference_server.settings import Settings

    rules = yaml.safe_load(DEADLINES.read_text(encoding="utf-8"))
    rules["hours"]["street_stall"] = 4
    (tmp_path / "deadlines.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    (tmp_path / "departments.yaml").write_text("departments: [市容环境卫生管理处]\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", deadlines=tmp_path / "deadlines.yaml",
                        departments=tmp_path / "departments.yaml")  # fmt: skip
    city = create_app(settings).state.city
    (tmp_path / "deadlines.yaml").unlink()  # read at start: nothing reads it again
    filed = _local(2026, 11, 27, 9, 0)
    assert city.deadline("street_stall", filed) == _local(2026, 11, 27, 14, 30).astimezone(UTC)  # 4 h, over lunch
    assert city.departments == ("市容环境卫生管理处",)
    del rules["hours"]["default"]
    (tmp_path / "deadlines.yaml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    with pytest.raises(ValidationError, match="default"):
        create_app(settings)
