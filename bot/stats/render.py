"""A statistics view as people read it: short tables in the chat (HTML) and the terminal.

Every number comes from the suppressed view (`StatsView`): a count is `12`, `<3` or `..`, and
a share is shown only where both its count and the window's total are. Beside the shares stand
the national figures of PTU (Brå), labelled as such.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from bot.i18n import catalog, escape, t
from bot.stats.aggregate import EXCLUSIVE, Window
from bot.stats.ptu import LABEL as PTU_LABEL
from bot.stats.ptu import PTU, SOURCE, ptu_share
from bot.stats.tables import Figure, StatsView

LABEL_WIDTH = 23
CELL_WIDTH = 6
MESSAGE_LIMIT = 4000  # under Telegram's 4096, for the tags


@dataclass(frozen=True)
class Section:
    """A titled table: a header row (first cell empty) and rows of a label and values."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def plain(text: str) -> str:
    """Catalog text without entities, for the terminal, a file or a picture."""
    return html.unescape(text)


def label(dim: str, code: str, lang: str) -> str:
    """The label of a code in statistics: short, neutral wording; the code if it is unknown."""
    key = f"stats.label.{dim}.{code}"
    return t(key, lang) if key in catalog(lang) else code


def percent(share: float, lang: str) -> str:
    return plain(t("stats.percent", lang, value=f"{round(share * 100):d}"))


def window_title(window: Window, lang: str) -> str:
    return plain(t(f"stats.window.{window.name}", lang))


def column(window: Window, lang: str) -> str:
    return plain(t(f"stats.col.{window.name}", lang))


def share_text(view: StatsView, dim: str, code: str, window: Window, lang: str) -> str:
    """`25 %`, or the count's mark when the share cannot be shown."""
    share = view.share(dim, code, window)
    if share is not None:
        return percent(share, lang)
    count = view.count(dim, code, window)
    return count.text if not count.shown else "–"


def sections(view: StatsView, lang: str) -> list[Section]:
    """The tables of a view, in reading order."""
    windows = view.windows
    header = ("", *(column(w, lang) for w in windows))
    found: list[Section] = []
    for dim in EXCLUSIVE:
        rows = tuple(
            (label(dim, code, lang), *(view.count(dim, code, w).text for w in windows))
            for code in view.codes[dim]
        )
        found.append(Section(plain(t(f"stats.section.{dim}", lang)), header, rows))
    found.append(
        Section(
            plain(t("stats.section.month", lang)),
            ("", plain(t("stats.reports", lang))),
            tuple((month, view.month(month).text) for month in view.months),
        )
    )
    share_rows: list[tuple[str, ...]] = []
    for dim, code in (("police", "ja"), *(("impact", c) for c in view.codes["impact"])):
        national = ptu_share(dim, code)
        share_rows.append(
            (
                label(dim, code, lang),
                *(share_text(view, dim, code, w, lang) for w in windows),
                percent(national, lang) if national is not None else "–",
            )
        )
    found.append(
        Section(
            plain(t("stats.section.shares", lang, ptu=PTU_LABEL)),
            (*header, plain(t("stats.col.ptu", lang))),
            tuple(share_rows),
        )
    )
    if view.organisations:
        first = windows[0]
        org_rows = []
        for org in view.organisations:
            police = view.org_police_share(org.org_id, first)
            org_rows.append(
                (
                    org.name,
                    *(view.org_total(org.org_id, w).text for w in windows),
                    percent(police, lang)
                    if police is not None
                    else _mark(view.org_police(org.org_id, first)),
                )
            )
        found.append(
            Section(
                plain(t("stats.section.organisations", lang, window=column(first, lang))),
                (*header, plain(t("stats.col.police", lang))),
                tuple(org_rows),
            )
        )
    return found


def _mark(figure: Figure) -> str:
    return figure.text if not figure.shown else "–"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def table_lines(section: Section) -> list[str]:
    """A section's table as aligned monospace lines."""
    lines = []
    for row in (section.header, *section.rows):
        cells = [_cut(row[0], LABEL_WIDTH).ljust(LABEL_WIDTH)]
        cells += [" " + value.rjust(CELL_WIDTH - 1) for value in row[1:]]
        lines.append("".join(cells).rstrip())
    return lines


def heading(view: StatsView, lang: str) -> list[str]:
    """Title, the windows' months and the totals, as plain lines."""
    lines = [plain(t("stats.title_plain", lang, organisation=view.name))]
    lines.append(
        " · ".join(
            plain(t("stats.span", lang, window=window_title(w, lang), first=w.first, last=w.last))
            for w in view.windows
        )
    )
    totals = " · ".join(f"{view.total(w).text} ({column(w, lang)})" for w in view.windows)
    lines.append(f"{plain(t('stats.reports', lang))}: {totals}")
    return lines


def legend(view: StatsView, lang: str) -> list[str]:
    exposed = PTU["exposed"]
    return [
        plain(t("stats.legend", lang, threshold=view.threshold)),
        plain(
            t(
                "stats.source",
                lang,
                ptu=PTU_LABEL,
                source=SOURCE,
                exposed=percent(exposed.share, lang),
                year=exposed.year,
            )
        ),
    ]


def render_text(view: StatsView, lang: str) -> str:
    """The view for a terminal (`trygg stats --format table`)."""
    out = [*heading(view, lang), ""]
    if _empty(view):
        out.append(plain(t("stats.none", lang)))
    else:
        for section in sections(view, lang):
            out += [section.title, *table_lines(section), ""]
    out += legend(view, lang)
    return "\n".join(out)


def _empty(view: StatsView) -> bool:
    return all(view.total(w).value == 0 for w in view.windows)


def render_messages(view: StatsView, lang: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The view as Telegram HTML messages: tables in `<pre>`, none cut between two messages."""
    head = heading(view, lang)
    blocks = [
        "\n".join(
            [t("stats.title", lang, organisation=view.name), *(escape(line) for line in head[1:])]
        )
    ]
    if _empty(view):
        blocks.append(t("stats.none", lang))
    else:
        for section in sections(view, lang):
            lines = [escape(line) for line in table_lines(section)]
            title = f"<b>{escape(section.title)}</b>"
            for chunk in _chunks(lines[1:], lines[0], limit - len(title) - 20):
                blocks.append(f"{title}\n<pre>{chr(10).join(chunk)}</pre>")
    blocks.append("<i>" + escape("\n".join(legend(view, lang))) + "</i>")
    return _pack(blocks, limit)


def _chunks(rows: Sequence[str], header: str, limit: int) -> list[list[str]]:
    """Rows in groups that fit `limit` characters, each with the header again."""
    groups: list[list[str]] = []
    current = [header]
    size = len(header)
    for row in rows:
        if size + len(row) + 1 > limit and len(current) > 1:
            groups.append(current)
            current, size = [header], len(header)
        current.append(row)
        size += len(row) + 1
    groups.append(current)
    return groups


def _pack(blocks: Sequence[str], limit: int) -> list[str]:
    """Blocks joined by blank lines into as few messages as fit."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        candidate = f"{current}\n\n{block}" if current else block
        if len(candidate) <= limit or not current:
            current = candidate
        else:
            messages.append(current)
            current = block
    if current:
        messages.append(current)
    return messages
