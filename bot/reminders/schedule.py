"""What falls due when: pure, clock-injected reminder schedules, each with a stable period key.

Every function here takes the moment `now` (an aware datetime) and answers with `Due` items, each
named by a **period key** that is the same whenever it is computed for the same period, e.g.

- digest `digest:solvik:2026-Q4`: per `reminders.members` (below), 09:00 local;
- event `event:solvik:2026-09-13`: `before` ahead of the event's day at 09:00, until that day ends;
- review `review:solvik:2027-09-01:-30d` (`-7d`, `0d`): 30 and 7 days before the review is due,
  and on the day, 09:00; then `review-weekly:solvik:2027-W40` every 7 days after it, 09:00;
- ack `ack:R-ABC123:1`, `:2`, ... up to `ack_repeat` (default 3): a new report is still
  unacknowledged `ack_within` after it came, and again every `ack_every` (default `ack_within`
  divided by `ack_repeat`); escalate `escalate:R-ABC123`: still so `ack_every` after the last
  reminder (with the defaults, twice `ack_within` after it came, as before reminders repeated);
- followup `followup:R-ABC123:2d`: each `followup` duration after a report whose reporter asked
  to be contacted, while the case is open;
- gap `gap:solvik:sakerhet:2026-W48`: Monday 09:00 every week, per contact that needs a
  coordinator and has none; `gap-file:solvik:2026-W48` for a file failing to load for a day.

The job (`bot.reminders.jobs`) records a key when it queues the messages, in the same transaction,
so a key is acted on once. Only the **latest** due period of a kind is returned: a bot that was
down for three quarters sends one digest when it comes back, not three.

Schedules (`reminders.members`), in the organisation's timezone:

- `weekly`: Mondays 09:00; `monthly`: the first day of the month 09:00; `quarterly`: the first day
  of January, April, July and October 09:00; `never`: no digest;
- a five-field cron expression, e.g. `0 9 1 */3 *`, read on the wall clock (croniter).

Wall-clock times go through `local_moment`: 09:00 is 09:00 whatever the UTC offset that day, a
time the spring-forward night skips is taken as the same time after the jump (02:30 becomes
03:30 CEST), and a time the autumn night repeats counts once, at its first occurrence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

from croniter import croniter

from bot.reports.model import Report, State
from bot.routines.hours import in_quiet_hours
from bot.routines.models import Duration, Event, Reminders, Routine, add_months

SEND_AT = time(9, 0)
"""When scheduled reminders (digests, events, review, gaps) go out, on the local wall clock."""
FILE_GRACE = timedelta(days=1)
"""A broken routine file is reported once it has failed this long: not while someone is editing."""
SCHEDULE_KEYWORDS = ("weekly", "monthly", "quarterly", "never")

Kind = Literal["digest", "event", "review", "ack", "escalate", "followup", "gap"]
GAP_FILE = "file"
"""`Due.detail` of a gap about a routine file that fails to load."""


@dataclass(frozen=True)
class Due:
    """One reminder that has fallen due. `at` is the moment it fell due (UTC).

    `detail` says which one of its kind: the review milestone (`-30d`, `-7d`, `0d`, `weekly`),
    the follow-up duration (`2d`), or the gap (a contact id, or `GAP_FILE`).
    """

    kind: Kind
    key: str
    at: datetime
    org_id: str
    detail: str = ""
    event: Event | None = None
    report: Report | None = None


# --- wall clock ------------------------------------------------------------------------------


@cache
def zone(timezone: str) -> ZoneInfo:
    return ZoneInfo(timezone)


def _check_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime was given; pass an aware one, e.g. datetime.now(UTC)")


def local_moment(wall: datetime, timezone: str) -> datetime:
    """The UTC instant at which the wall clock in `timezone` reads `wall` (naive).

    A wall time skipped by the spring-forward jump maps to the same time after the jump (fold=0
    keeps the offset before it), and a repeated one to its first occurrence.
    """
    return wall.replace(tzinfo=zone(timezone), fold=0).astimezone(UTC)


def local_now(now: datetime, timezone: str) -> datetime:
    """`now` on the organisation's clock (aware)."""
    _check_aware(now)
    return now.astimezone(zone(timezone))


def at_send_time(day: date, timezone: str) -> datetime:
    """`day` at `SEND_AT` on the local clock, as a UTC instant."""
    return local_moment(datetime.combine(day, SEND_AT), timezone)


def iso_week(day: date) -> str:
    """`2026-W48`: the ISO year and week of `day`."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _latest_monday(now: datetime, timezone: str) -> date:
    """The Monday whose 09:00 is the latest one at or before `now`."""
    today = local_now(now, timezone).date()
    monday = today - timedelta(days=today.weekday())
    if at_send_time(monday, timezone) > now:
        monday -= timedelta(days=7)
    return monday


# --- quiet hours -----------------------------------------------------------------------------


def quiet_until(reminders: Reminders, timezone: str, now: datetime) -> datetime | None:
    """When the quiet window around `now` ends (UTC), or None when `now` is not in it.

    The window may pass midnight (21:00-08:00): at 22:00 it ends tomorrow at 08:00, at 03:00
    today at 08:00. A reminder queued in the window waits until then.
    """
    local = local_now(now, timezone)
    start, end = reminders.quiet_start, reminders.quiet_end
    if not in_quiet_hours(local.time(), start, end):
        return None
    wall_now = local.time().replace(tzinfo=None)
    passes_midnight = start.replace(tzinfo=None) > end.replace(tzinfo=None)
    ends_tomorrow = passes_midnight and wall_now >= start.replace(tzinfo=None)
    day = local.date() + timedelta(days=1 if ends_tomorrow else 0)
    return local_moment(datetime.combine(day, end.replace(tzinfo=None)), timezone)


# --- the kinds -------------------------------------------------------------------------------


def digest_period(schedule: str, timezone: str, now: datetime) -> tuple[str, datetime] | None:
    """The latest period of `schedule` that has begun at `now`: (label, moment it began).

    None for `never`. Labels: `2026-W48`, `2026-11`, `2026-Q4`, or the local fire time of a cron
    expression, `2026-11-24T09:00`.
    """
    if schedule == "never":
        return None
    local = local_now(now, timezone)
    today = local.date()
    if schedule == "weekly":
        monday = _latest_monday(now, timezone)
        return iso_week(monday), at_send_time(monday, timezone)
    if schedule == "monthly":
        first = today.replace(day=1)
        if at_send_time(first, timezone) > now:
            first = add_months(first, -1)
        return f"{first.year}-{first.month:02d}", at_send_time(first, timezone)
    if schedule == "quarterly":
        first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        if at_send_time(first, timezone) > now:
            first = add_months(first, -3)
        return f"{first.year}-Q{(first.month - 1) // 3 + 1}", at_send_time(first, timezone)
    return _cron_period(schedule, timezone, now)


def _cron_period(expression: str, timezone: str, now: datetime) -> tuple[str, datetime] | None:
    wall_now = local_now(now, timezone).replace(tzinfo=None)
    # A second ahead, so that a fire time equal to now counts; the check below drops a later one.
    found = croniter(expression, wall_now + timedelta(seconds=1))
    for _ in range(3):
        wall: datetime = found.get_prev(datetime)
        moment = local_moment(wall, timezone)
        if moment <= now:
            return wall.strftime("%Y-%m-%dT%H:%M"), moment
    return None  # pragma: no cover - three fire times after now cannot happen


def digest_due(routine: Routine, now: datetime) -> Due | None:
    """The members' routine digest of the latest period of `reminders.members`."""
    org = routine.organisation
    period = digest_period(routine.reminders.members, org.timezone, now)
    if period is None:
        return None
    label, moment = period
    return Due("digest", f"digest:{org.id}:{label}", moment, org.id)


def event_moment(event: Event, timezone: str) -> datetime:
    """When the reminder of `event` falls due: `before` ahead of its day at 09:00 local."""
    wall = datetime.combine(event.date, SEND_AT)
    before = event.before
    wall = add_months(wall, -before.amount) if before.unit == "mo" else wall - before.as_timedelta()
    return local_moment(wall, timezone)


def events_due(routine: Routine, now: datetime) -> list[Due]:
    """Dated events whose reminder time has come and whose day has not ended."""
    org = routine.organisation
    found: list[Due] = []
    on_date: Counter[date] = Counter()
    for event in routine.reminders.events:
        on_date[event.date] += 1
        suffix = "" if on_date[event.date] == 1 else f"#{on_date[event.date]}"
        moment = event_moment(event, org.timezone)
        ends = local_moment(datetime.combine(event.date + timedelta(days=1), time()), org.timezone)
        if moment <= now < ends:
            key = f"event:{org.id}:{event.date.isoformat()}{suffix}"
            found.append(Due("event", key, moment, org.id, event=event))
    return found


def review_due(routine: Routine, now: datetime) -> Due | None:
    """The latest review reminder: 30 and 7 days before the due date, on it, then weekly."""
    org = routine.organisation
    due = org.review_due
    latest: Due | None = None
    for offset, label in ((30, "-30d"), (7, "-7d"), (0, "0d")):
        moment = at_send_time(due - timedelta(days=offset), org.timezone)
        if moment <= now:
            key = f"review:{org.id}:{due.isoformat()}:{label}"
            latest = Due("review", key, moment, org.id, label)
    weeks = (local_now(now, org.timezone).date() - due).days // 7
    while weeks >= 1:
        day = due + timedelta(days=7 * weeks)
        moment = at_send_time(day, org.timezone)
        if moment <= now:
            key = f"review-weekly:{org.id}:{iso_week(day)}"
            return Due("review", key, moment, org.id, "weekly")
        weeks -= 1
    return latest


def ack_moments(reminders: Reminders, created_at: datetime) -> tuple[list[datetime], datetime]:
    """When a new report's acknowledgement reminders fall due, and when it is escalated.

    Like an on-call tool: the first after `ack_within`, then every `ack_every`, `ack_repeat` in
    all; the escalation one more `ack_every` after the last.
    """
    first = reminders.ack_within.add_to(created_at)
    every = reminders.ack_every
    step = reminders.ack_within.as_timedelta() / reminders.ack_repeat
    moments = [first]
    for _ in range(reminders.ack_repeat):
        moments.append(every.add_to(moments[-1]) if every is not None else moments[-1] + step)
    return moments[:-1], moments[-1]


def ack_due(routine: Routine, report: Report, now: datetime) -> list[Due]:
    """The latest acknowledgement reminder due for a new report, and its escalation (when
    `escalate_to` names anyone); each key once, whatever `now` is after that. An
    acknowledgement ends them all: only NEW reports have any."""
    if report.state != State.NEW:
        return []
    reminded, escalate_at = ack_moments(routine.reminders, report.created_at)
    found: list[Due] = []
    due = [n for n, moment in enumerate(reminded, start=1) if moment <= now]
    if due:
        n = due[-1]
        key = f"ack:{report.ref}:{n}"
        found.append(Due("ack", key, reminded[n - 1], routine.id, str(n), report=report))
    if routine.reminders.escalate_to and report.escalated_at is None and escalate_at <= now:
        key = f"escalate:{report.ref}"
        found.append(Due("escalate", key, escalate_at, routine.id, report=report))
    return found


def followup_due(routine: Routine, report: Report, now: datetime) -> Due | None:
    """The latest follow-up with a reporter who asked to be contacted, while the case is open."""
    if not report.contact_me or report.state == State.CLOSED:
        return None
    latest: Due | None = None
    for after in sorted(routine.reminders.followup, key=Duration.as_timedelta):
        moment = after.add_to(report.created_at)
        if moment <= now:
            key = f"followup:{report.ref}:{after}"
            latest = Due("followup", key, moment, routine.id, str(after), report=report)
    return latest


def gaps_due(
    org_id: str,
    timezone: str,
    now: datetime,
    unregistered: Iterable[str],
    failing_since: datetime | None = None,
) -> list[Due]:
    """This week's gap reminders: contacts nobody has registered for, and a failing file."""
    monday = _latest_monday(now, timezone)
    moment = at_send_time(monday, timezone)
    week = iso_week(monday)
    found = [Due("gap", f"gap:{org_id}:{c}:{week}", moment, org_id, c) for c in unregistered]
    if failing_since is not None and failing_since + FILE_GRACE <= now:
        found.append(Due("gap", f"gap-file:{org_id}:{week}", moment, org_id, GAP_FILE))
    return found


def collect_due(
    routine: Routine,
    now: datetime,
    *,
    reports: Sequence[Report] = (),
    unregistered: Iterable[str] = (),
    failing_since: datetime | None = None,
) -> list[Due]:
    """Everything of every kind that is due for `routine` at `now` (sent or not: the caller
    drops the keys it has recorded). `reports` are the organisation's open reports."""
    found: list[Due] = []
    digest = digest_due(routine, now)
    if digest is not None:
        found.append(digest)
    found += events_due(routine, now)
    review = review_due(routine, now)
    if review is not None:
        found.append(review)
    for report in reports:
        if report.org_id != routine.id:
            continue
        found += ack_due(routine, report, now)
        followup = followup_due(routine, report, now)
        if followup is not None:
            found.append(followup)
    found += gaps_due(routine.id, routine.organisation.timezone, now, unregistered, failing_since)
    return found
