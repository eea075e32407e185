"""The health of a routine in words, Swedish or English: one text for the CLI and the chat.

The words live in the message catalogs, so translators find them with the bot's other texts. The
catalogs are Telegram HTML: the chat gets the text as it is (values escaped), the terminal gets it
unescaped, with no markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import replace

from bot.health.gaps import OrgHealth, SituationGaps
from bot.i18n import Html, plain, t
from bot.routines.hours import MINUTES_PER_WEEK, describe
from bot.routines.models import Routine, Window


def as_plain(text: str) -> str:
    """Catalog text for a terminal or an image: entities decoded (the catalog keys used for
    plain output have no tags)."""
    return html.unescape(text)


def format_hours(minutes: int, lang: str) -> str:
    """`62` or `62,5` (Swedish) / `62.5` (English) hours."""
    hours = minutes / 60
    text = f"{hours:.0f}" if minutes % 60 == 0 else f"{hours:.1f}"
    return text.replace(".", plain("number.decimal_mark", lang))


def describe_ranges(gaps: SituationGaps, lang: str) -> str:
    """A situation's uncovered hours, days with the same hours grouped: "mån–fre 00:00–08:00"."""
    if gaps.uncovered_minutes == MINUTES_PER_WEEK:
        return as_plain(t("health.all_week", lang))
    by_times: dict[tuple[int, int], set[int]] = {}
    for found in gaps.ranges():
        by_times.setdefault((found.start, found.end), set()).add(found.day)
    windows = tuple(
        Window(days=frozenset(days), start=start, end=end)
        for (start, end), days in by_times.items()
    )
    return describe(windows, lang)


def _names(routine: Routine, ids: Iterable[str], lang: str) -> str:
    return ", ".join(
        f"{routine.contacts[i].name.get(lang)} ({i})" if i in routine.contacts else i for i in ids
    )


def _situation_line(gaps: SituationGaps, lang: str) -> Html:
    title = gaps.title.get(lang)
    if not gaps.uncovered:
        return t("health.situation_covered", lang, situation=title)
    return t(
        "health.situation_gap",
        lang,
        situation=title,
        hours=format_hours(gaps.uncovered_minutes, lang),
        ranges=describe_ranges(gaps, lang),
    )


def only_gaps(report: OrgHealth) -> OrgHealth:
    """The report with only the situations that leave someone alone at some hour: what a
    picture of the week is worth drawing for (none: nothing to draw)."""
    return replace(report, situations=tuple(s for s in report.situations if s.uncovered))


def render_report(report: OrgHealth, routine: Routine, lang: str, *, markup: bool) -> str:
    """The whole report of one organisation: Telegram HTML when `markup`, else plain text.

    Situations with gaps get a line each; those that always reach someone are counted in one
    line, so a routine without gaps reads as one line, not one per situation."""
    heading = t("health.heading", lang, organisation=report.name)
    lines: list[str] = [f"<b>{heading}</b>" if markup else heading, ""]
    gapped = only_gaps(report).situations
    covered = len(report.situations) - len(gapped)
    if not report.situations:
        lines.append(t("health.no_situations", lang))
    elif not gapped:
        lines.append(t("health.no_gaps", lang, count=covered))
    else:
        lines.append(t("health.gaps_intro", lang, timezone=report.timezone))
        lines.extend(_situation_line(gaps, lang) for gaps in gapped)
        if covered:
            lines.append(t("health.others_covered", lang, count=covered))
    lines.append("")
    review_key = "health.review_overdue" if report.review_overdue else "health.review_ok"
    lines.append(t(review_key, lang, due=report.review_due.isoformat()))
    if report.unregistered:
        names = _names(routine, report.unregistered, lang)
        lines.append(t("health.unregistered", lang, contacts=names))
    else:
        lines.append(t("health.unregistered_none", lang))
    if report.unreachable:
        names = _names(routine, report.unreachable, lang)
        lines.append(t("health.unreachable", lang, contacts=names))
    else:
        lines.append(t("health.unreachable_none", lang))
    text = "\n".join(lines)
    return text if markup else as_plain(text)
