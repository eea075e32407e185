"""`trygg stats` and `trygg export`: the statistics and the per-report export for operators.

Both read the database in `TRYGG_DATA_DIR` and never create one. `trygg stats` prints the same
suppressed view as /statistik: one organisation with `--org`, else every organisation together
and per organisation (what the national role sees). `trygg export` writes one organisation's
reports, one per row (CSV), or a workbook with the suppressed summary and the reports (XLSX);
descriptions only with `--with-text`.

The rule that per-report rows are for the organisation's own coordinators is kept by the chat
(the national role never gets them). The command line is the operator's, who can read the
database anyway: hand an export only to the organisation's own coordinators. Files are written
owner-only (0600), like the database.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.datadir import open_database, prepare_data_dir
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, t
from bot.routines.registry import RoutineRegistry
from bot.stats.aggregate import (
    Window,
    add_months,
    month_of,
    parse_month,
    range_window,
    standard_windows,
)
from bot.stats.export import stats_csv, stats_json, write_reports_csv, xlsx_bytes
from bot.stats.render import plain, render_text
from bot.stats.service import national_view, organisation_view
from bot.stats.suppress import MIN_THRESHOLD
from bot.stats.tables import StatsView
from bot.storage import Database

FILE_MODE = 0o600
NATIONAL_TIMEZONE = "Europe/Stockholm"


def add_stats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", help="one organisation (default: all, per organisation and total)")
    _add_range(parser)
    parser.add_argument("--format", choices=["table", "csv", "json"], default="table")
    parser.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE)
    parser.add_argument(
        "--threshold",
        type=_threshold,
        help="show counts below this as <N (default: $TRYGG_STATS_THRESHOLD or 3)",
    )


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", required=True, help="the organisation whose reports to export")
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="FILE.csv (reports) or FILE.xlsx (+ summary)"
    )
    _add_range(parser)
    parser.add_argument(
        "--with-text", action="store_true", help="add the (anonymised) descriptions"
    )
    parser.add_argument(
        "--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE, help="language of labels"
    )
    parser.add_argument("--threshold", type=_threshold, help="for the XLSX summary (default 3)")


def _add_range(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="first", type=_month, metavar="YYYY-MM", help="first month (included)"
    )
    parser.add_argument(
        "--to", dest="last", type=_month, metavar="YYYY-MM", help="last month (included)"
    )


def _month(text: str) -> str:
    try:
        return parse_month(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _threshold(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < MIN_THRESHOLD:
        raise argparse.ArgumentTypeError(f"a whole number, {MIN_THRESHOLD} or more")
    return value


def windows_for(first: str | None, last: str | None, now: datetime, timezone: str) -> list[Window]:
    """`--from`/`--to` as one window (the last month defaults to this one, the first to eleven
    months before the last); without either, the last 12 months and the year so far."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    if first is None and last is None:
        return list(standard_windows(today))
    end = last or month_of(today)
    start = first or add_months(end, -11)
    return [range_window(start, end)]


async def _open(settings: Settings) -> Database | None:
    if not settings.db_path.exists():
        print(f"trygg: no database in {settings.data_dir}: nothing reported yet", file=sys.stderr)
        return None
    return await open_database(prepare_data_dir(settings.data_dir, settings.key_file))


def _registry(settings: Settings) -> RoutineRegistry:
    registry = RoutineRegistry(settings.routines_dir)
    registry.reload()
    return registry


async def _view(
    args: argparse.Namespace, settings: Settings, db: Database, registry: RoutineRegistry
) -> StatsView | None:
    threshold = args.threshold or settings.stats_threshold
    now = datetime.now(UTC)
    if args.org is None:
        windows = windows_for(args.first, args.last, now, NATIONAL_TIMEZONE)
        names = {r.id: r.organisation.name for r in registry.organisations()}
        return await national_view(
            db,
            plain(t("stats.all_organisations", args.lang)),
            windows,
            threshold,
            names,
            organisations=sorted(names),
        )
    routine = registry.get(args.org)
    if routine is None and args.org not in await db.report_orgs():
        known = ", ".join(r.id for r in registry.organisations()) or "none"
        print(f"trygg: no organisation {args.org!r} (known: {known})", file=sys.stderr)
        return None
    timezone = routine.organisation.timezone if routine else NATIONAL_TIMEZONE
    windows = windows_for(args.first, args.last, now, timezone)
    name = routine.organisation.name if routine else args.org
    return await organisation_view(db, args.org, name, windows, threshold)


async def stats(args: argparse.Namespace, settings: Settings) -> int:
    """Print the suppressed statistics; exit 2 for an unknown organisation or a bad range."""
    registry = _registry(settings)
    db = await _open(settings)
    if db is None:
        return 2
    try:
        async with db:
            view = await _view(args, settings, db, registry)
    except ValueError as error:  # a range that ends before it starts
        print(f"trygg: {error}", file=sys.stderr)
        return 2
    if view is None:
        return 2
    if args.format == "json":
        print(json.dumps(stats_json(view), ensure_ascii=False, indent=2))
    elif args.format == "csv":
        buffer = io.StringIO()
        stats_csv(view, buffer, args.lang)
        sys.stdout.write(buffer.getvalue())
    else:
        print(render_text(view, args.lang))
    return 0


async def export(args: argparse.Namespace, settings: Settings) -> int:
    """Write the organisation's reports (CSV) or the summary and the reports (XLSX)."""
    out = Path(args.out)
    kind = out.suffix.lower()
    if kind not in (".csv", ".xlsx"):
        print("trygg: --out must end in .csv or .xlsx", file=sys.stderr)
        return 2
    registry = _registry(settings)
    db = await _open(settings)
    if db is None:
        return 2
    try:
        async with db:
            view = await _view(args, settings, db, registry)
            if view is None:
                return 2
            first = min(w.first for w in view.windows)
            last = max(w.last for w in view.windows)
            reports = await db.reports_between(args.org, first, last)
    except ValueError as error:
        print(f"trygg: {error}", file=sys.stderr)
        return 2
    if kind == ".csv":
        text = io.StringIO()
        write_reports_csv(reports, text, args.lang, with_text=args.with_text)
        data = text.getvalue().encode("utf-8-sig")
    else:
        data = xlsx_bytes(view, reports, args.lang, with_text=args.with_text)
    _write_private(out, data)
    text_note = " with descriptions" if args.with_text else ""
    print(
        f"trygg: wrote {len(reports)} report(s) of {args.org}, {first} – {last}{text_note}, "
        f"to {out}",
        file=sys.stderr,
    )
    return 0


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path`, owner-only: an export holds the organisation's reports."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.chmod(path, FILE_MODE)  # an existing file keeps its mode through O_TRUNC
