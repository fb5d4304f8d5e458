"""Chinese business calendar and time limits: pure functions plus the holiday_override table (DESIGN §5).

Import the model from app.calendar.models explicitly; this package's namespace stays free of the database.
"""
from app.calendar.calendar import (  # noqa: F401
    DEFAULT_OFFICE_HOURS,
    SHANGHAI,
    BusinessCalendar,
    CalendarInputError,
    DayStatus,
    Due,
    SlaState,
    parse_instant,
    parse_office_hours,
    sla_state,
)
from app.calendar.durations import Duration, DurationError, Unit, parse_duration  # noqa: F401
from app.calendar.schedule import ScheduleError, YearSchedule, load_schedule_file, parse_schedule  # noqa: F401
