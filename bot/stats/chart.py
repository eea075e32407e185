"""The statistics view as one picture: types, channels, months, and shares beside PTU (Brå).

Drawn like the heatmap (bot/health/heatmap.py): matplotlib is imported inside `render_chart`,
which the bot calls in a worker thread, and the figure is drawn on the Agg canvas directly,
never through pyplot, with DejaVu Sans (it has å, ä and ö). Only what the suppressed view
shows is drawn: a suppressed count gets no bar, only its mark (`<3`, `..`) where the bar would
start, so no length gives it away. The title is also written into the PNG's metadata (`Title`).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from bot.i18n import t
from bot.stats.ptu import LABEL as PTU_LABEL
from bot.stats.ptu import ptu_share
from bot.stats.render import column, label, percent, plain
from bot.stats.tables import Figure, StatsView

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DPI = 100
WIDTH = 1600
HEIGHT = 1300
FONT = "DejaVu Sans"
COLOURS = ("#1f5f8b", "#8fb8d8", "#c62828")  # first window, second window, PTU (Brå)
MARK_COLOUR = "#555555"


def chart_title(view: StatsView, lang: str) -> str:
    """The picture's title: the organisation (or all) and the months of the first window."""
    first = view.windows[0]
    return plain(
        t("stats.chart.title", lang, organisation=view.name, first=first.first, last=first.last)
    )


def _bars(ax: Axes, labels: list[str], series: list[tuple[str, list[Figure]]], title: str) -> None:
    """Horizontal bars, one group per label, one bar per series; marks instead of hidden bars."""
    from matplotlib.ticker import MaxNLocator

    count = len(series)
    height = 0.8 / count
    positions = list(range(len(labels)))
    top = max((f.value or 0 for _, figures in series for f in figures), default=0)
    pad = max(top, 1) * 0.01
    for index, (name, figures) in enumerate(series):
        offsets = [p - 0.4 + height * (index + 0.5) for p in positions]
        values = [f.value or 0 for f in figures]
        ax.barh(offsets, values, height=height, color=COLOURS[index % 2], label=name)
        for y, figure in zip(offsets, figures, strict=True):
            ax.text(
                (figure.value or 0) + pad,
                y,
                figure.text,
                va="center",
                fontsize=9,
                color="black" if figure.shown else MARK_COLOUR,
                family=FONT,
            )
    ax.set_yticks(positions, labels, fontsize=10, family=FONT)
    ax.invert_yaxis()
    ax.set_xlim(0, max(top, 1) * 1.18)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=13, loc="left", family=FONT)
    ax.spines[["top", "right"]].set_visible(False)
    if count > 1:
        ax.legend(fontsize=9, loc="lower right", frameon=False)


def _months(ax: Axes, view: StatsView, lang: str) -> None:
    from matplotlib.ticker import MaxNLocator

    figures = [view.month(m) for m in view.months]
    values = [f.value or 0 for f in figures]
    positions = list(range(len(figures)))
    ax.bar(positions, values, color=COLOURS[0])
    top = max(values, default=0)
    for x, figure in zip(positions, figures, strict=True):
        ax.text(
            x,
            (figure.value or 0) + max(top, 1) * 0.02,
            figure.text,
            ha="center",
            fontsize=9,
            color="black" if figure.shown else MARK_COLOUR,
            family=FONT,
        )
    ax.set_xticks(positions, list(view.months), fontsize=8, rotation=45)
    ax.set_ylim(0, max(top, 1) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(plain(t("stats.section.month", lang)), fontsize=13, loc="left", family=FONT)
    ax.spines[["top", "right"]].set_visible(False)


def _shares(ax: Axes, view: StatsView, lang: str) -> None:
    """Shares of the reports per window, with PTU (Brå) beside them (percent)."""
    rows = [("police", "ja"), *(("impact", c) for c in view.codes["impact"])]
    labels = [label(dim, code, lang) for dim, code in rows]
    series: list[tuple[str, list[tuple[float | None, str]]]] = []
    for window in view.windows:
        cells: list[tuple[float | None, str]] = []
        for dim, code in rows:
            share = view.share(dim, code, window)
            count = view.count(dim, code, window)
            text = percent(share, lang) if share is not None else count.text
            cells.append((share, text if share is not None or not count.shown else "–"))
        series.append((column(window, lang), cells))
    national: list[tuple[float | None, str]] = []
    for dim, code in rows:
        value = ptu_share(dim, code)
        national.append((value, percent(value, lang) if value is not None else "–"))
    series.append((PTU_LABEL, national))
    height = 0.8 / len(series)
    for index, (name, cells) in enumerate(series):
        offsets = [p - 0.4 + height * (index + 0.5) for p in range(len(rows))]
        colour = COLOURS[2] if name == PTU_LABEL else COLOURS[index % 2]
        ax.barh(
            offsets, [100 * (s or 0) for s, _ in cells], height=height, color=colour, label=name
        )
        for y, (share, text) in zip(offsets, cells, strict=True):
            ax.text(
                100 * (share or 0) + 1,
                y,
                text,
                va="center",
                fontsize=9,
                family=FONT,
                color="black" if share is not None else MARK_COLOUR,
            )
    ax.set_yticks(range(len(rows)), labels, fontsize=10, family=FONT)
    ax.invert_yaxis()
    ax.set_xlim(0, 115)
    ax.set_xlabel("%", fontsize=10)
    ax.set_title(plain(t("stats.chart.shares", lang)), fontsize=13, loc="left", family=FONT)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=9, loc="lower right", frameon=False)


def render_chart(view: StatsView, lang: str) -> bytes:
    """A PNG of `WIDTH` × `HEIGHT` pixels, labelled in `lang`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    title = chart_title(view, lang)
    figure = MplFigure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.set_facecolor("white")
    figure.subplots_adjust(left=0.17, right=0.98, top=0.9, bottom=0.09, wspace=0.55, hspace=0.3)
    figure.text(
        0.5, 0.965, title, ha="center", va="center", fontsize=20, fontweight="bold", family=FONT
    )
    figure.text(
        0.5,
        0.025,
        plain(t("stats.chart.legend", lang, threshold=view.threshold, ptu=PTU_LABEL)),
        ha="center",
        va="center",
        fontsize=10,
        family=FONT,
        color=MARK_COLOUR,
    )
    axes = figure.subplots(2, 2, squeeze=False)
    windows = view.windows
    for ax, dim in ((axes[0][0], "type"), (axes[0][1], "channel")):
        codes = list(view.codes[dim])
        series = [(column(w, lang), [view.count(dim, code, w) for code in codes]) for w in windows]
        _bars(
            ax, [label(dim, c, lang) for c in codes], series, plain(t(f"stats.section.{dim}", lang))
        )
    _months(axes[1][0], view, lang)
    _shares(axes[1][1], view, lang)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Title": title})
    return buffer.getvalue()
