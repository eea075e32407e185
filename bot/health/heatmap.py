"""The week as a heatmap per situation (hours across, days down), for the coordinators' meeting.

Matplotlib is slow to import, so it is imported inside `render_heatmap`, which the bot calls in a
worker thread. The figure is drawn with the Agg canvas directly, never through pyplot, so no
global state is shared between threads, and with DejaVu Sans, which ships with matplotlib and has
å, ä and ö. The size in pixels depends only on the number of situations (`heatmap_size`).
"""

from __future__ import annotations

import io
import math

from bot.health.gaps import OrgHealth, hour_grid
from bot.health.report import as_plain, format_hours
from bot.i18n import t, words

DPI = 100
WIDTH = 1800
HEADER = 200
ROW = 300
FOOTER = 40
MAX_COLUMNS = 3
_TITLE_CHARS = 46

COVERED = "#dcedc8"
UNCOVERED = "#c62828"


def _columns(count: int) -> int:
    return max(1, min(MAX_COLUMNS, count))


def heatmap_size(situations: int) -> tuple[int, int]:
    """Width and height in pixels of the heatmap of `situations` situations."""
    rows = max(1, math.ceil(situations / _columns(situations)))
    return WIDTH, HEADER + rows * ROW + FOOTER


def _short(text: str) -> str:
    return text if len(text) <= _TITLE_CHARS else text[: _TITLE_CHARS - 1].rstrip() + "…"


def render_heatmap(report: OrgHealth, lang: str) -> bytes:
    """A PNG: one 7 × 24 panel per situation, red where no own contact can be reached."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure

    count = len(report.situations)
    columns = _columns(count)
    rows = max(1, math.ceil(count / columns))
    width, height = heatmap_size(count)
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.set_facecolor("white")
    top = 1 - HEADER / height
    bottom = (FOOTER + 30) / height
    figure.subplots_adjust(left=0.05, right=0.99, top=top, bottom=bottom, wspace=0.12, hspace=0.55)
    figure.text(
        0.5,
        1 - 45 / height,
        as_plain(t("heatmap.title", lang, organisation=report.name)),
        ha="center",
        va="center",
        fontsize=22,
        fontweight="bold",
        family="DejaVu Sans",
    )
    figure.text(
        0.5,
        1 - 100 / height,
        as_plain(t("heatmap.subtitle", lang, timezone=report.timezone)),
        ha="center",
        va="center",
        fontsize=13,
        family="DejaVu Sans",
        wrap=True,
    )
    colours = LinearSegmentedColormap.from_list("uncovered", [COVERED, UNCOVERED])
    days = list(words("weekday.short", lang))
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index >= count:
            ax.set_visible(False)
            continue
        gaps = report.situations[index]
        ax.imshow(
            hour_grid(gaps.uncovered),
            cmap=colours,
            vmin=0,
            vmax=1,
            aspect="auto",
            interpolation="nearest",
        )
        # Hours are cells centred on 0..23, so a tick at x - 0.5 marks the full hour x.
        ax.set_xticks([h - 0.5 for h in range(0, 25, 3)], [f"{h:02d}" for h in range(0, 25, 3)])
        ax.set_yticks(range(7), days)
        ax.tick_params(labelsize=10)
        # Cell borders as two line collections: minor ticks would cost a second per picture.
        ax.vlines([x - 0.5 for x in range(1, 24)], -0.5, 6.5, colors="white", linewidth=0.8)
        ax.hlines([y - 0.5 for y in range(1, 7)], -0.5, 23.5, colors="white", linewidth=0.8)
        if gaps.uncovered:
            hours = format_hours(gaps.uncovered_minutes, lang)
            status = as_plain(t("heatmap.uncovered", lang, hours=hours))
        else:
            status = as_plain(t("heatmap.covered", lang))
        ax.set_title(
            f"{_short(gaps.title.get(lang))}\n{status}",
            fontsize=12,
            loc="left",
            color=UNCOVERED if gaps.uncovered else "black",
        )
        if index // columns == rows - 1:
            ax.set_xlabel(as_plain(t("heatmap.hour", lang)), fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()
