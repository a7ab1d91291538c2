"""The helpdesk report's pictures: cases per week as small stacked bar charts, drawn here as
SVG on the server.

No JavaScript and only presentation attributes, never `style` (the console's CSP has no
'unsafe-inline'; the SVG sits inline in the page). Every text is escaped. A bar's height is
its count times one scale per chart, so bars compare by height; each segment carries its
words in a <title>, its week and category as data attributes, and the chart a <title> and
<desc>. The tables beside it, and the table of the figures per week under it, say the same
in text.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .charts import FONT, INK, MUTED, text_width
from .report import OTHER, Weekly

PLOT_H = 120.0
LEFT, RIGHT, TOP, GAP = 34.0, 12.0, 12.0, 4.0
MIN_W = 320.0
# A week's slot: wide for a month, narrow for a year; bars keep a gap between them.
SLOT_MIN, SLOT_MAX, SLOT_SPAN = 9.0, 44.0, 280.0
# Text is measured by estimate (no font files here), generously: a fallback font is wider.
LABEL_PX, LABEL_CHAR = 11, 6.8
GRID = "#d5dae0"
# Okabe and Ito's palette: told apart with every common colour vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHER_COLOUR = "#8c8c8c"
END_COLOURS = {
    "solved": "#009E73",
    "escalate": "#D55E00",
    "action": "#0072B2",
    "question": "#CC79A7",
    "advice": "#56B4E9",
    "other": OTHER_COLOUR,
}


def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _t(text: str) -> str:
    return escape(str(text))


def _a(text: str) -> str:
    return quoteattr(str(text))


def _step(top: int) -> int:
    """A round step for the axis: 1, 2, 5, 10, 20, 50 … with at most four steps to `top`."""
    for magnitude in (10**e for e in range(10)):
        for step in (1, 2, 5):
            if step * magnitude * 4 >= top:
                return step * magnitude
    return top


def colours(weekly: Weekly, *, ends: bool) -> dict[str, str]:
    if ends:
        return {key: END_COLOURS.get(key, OTHER_COLOUR) for key, _words in weekly.categories}
    found = {}
    for i, (key, _words) in enumerate(weekly.categories):
        found[key] = OTHER_COLOUR if key == OTHER else PALETTE[i % len(PALETTE)]
    return found


def week_words(monday) -> str:
    return _("week van %(day)s") % {"day": formats.date_format(monday, "DATE_FORMAT")}


def _description(weekly: Weekly) -> str:
    total = sum(weekly.total(w) for w in weekly.weeks)
    text = ngettext("%(n)d zaak in %(w)d weken.", "%(n)d zaken in %(w)d weken.", total) % {
        "n": total,
        "w": len(weekly.weeks),
    }
    if total:
        busiest = max(weekly.weeks, key=lambda w: (weekly.total(w), w))
        text += " " + _("De drukste week: %(week)s, met %(n)d.") % {
            "week": week_words(busiest),
            "n": weekly.total(busiest),
        }
    return text + " " + _("De tabellen geven dezelfde cijfers.")


def bar_chart(weekly: Weekly, *, chart_id: str, title: str, ends: bool = False) -> str:
    """Draw `weekly` as stacked bars, one per week, a colour per category with a legend."""
    weeks = weekly.weeks
    count = max(len(weeks), 1)
    slot = min(SLOT_MAX, max(SLOT_MIN, SLOT_SPAN / count))
    width = max(MIN_W, LEFT + slot * count + RIGHT)
    slot = (width - LEFT - RIGHT) / count  # a few weeks fill the width too
    bar_w = min(SLOT_MAX - GAP, max(slot - GAP, slot * 0.7))
    highest = max((weekly.total(w) for w in weeks), default=0)
    step = _step(max(highest, 1))
    axis_top = step * math.ceil(max(highest, 1) / step)
    scale = PLOT_H / axis_top  # px per case: the same for every bar of this chart
    base = TOP + PLOT_H
    fill = colours(weekly, ends=ends)
    words = dict(weekly.categories)
    segment = _("%(week)s: %(what)s (%(n)d)")

    out: list[str] = []
    for tick in range(0, axis_top + 1, step):
        y = base - tick * scale
        out.append(
            f'<line x1="{_n(LEFT)}" x2="{_n(width - RIGHT)}" y1="{_n(y)}" y2="{_n(y)}" '
            f'stroke="{INK if tick == 0 else GRID}" stroke-width="1"/>'
            f'<text x="{_n(LEFT - 6)}" y="{_n(y + 4)}" text-anchor="end" '
            f'font-size="{LABEL_PX}" fill="{MUTED}">{tick}</text>'
        )
    every = max(1, math.ceil(len(weeks) * 46 / (width - LEFT - RIGHT)))  # labels never touch
    for i, week in enumerate(weeks):
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = base
        parts = []
        for key, _words in weekly.categories:
            n = weekly.count(week, key)
            if not n:
                continue
            h = n * scale
            y -= h
            parts.append(
                f'<rect class="bar" x="{_n(x)}" y="{_n(y)}" width="{_n(bar_w)}" '
                f'height="{_n(h)}" fill="{fill[key]}" stroke="#fff" stroke-width="0.5" '
                f"data-week={_a(week.isoformat())} data-key={_a(key)} data-count={_a(n)}>"
                f"<title>{_t(segment % {'week': week_words(week), 'what': words[key], 'n': n})}"
                "</title></rect>"
            )
        total = weekly.total(week)
        label = ngettext("%(n)d zaak", "%(n)d zaken", total) % {"n": total}
        out.append(
            f"<g class={_a('week')} data-week={_a(week.isoformat())} "
            f"data-total={_a(total)}><title>{_t(f'{week_words(week)}: {label}')}</title>"
            + "".join(parts)
            + "</g>"
        )
        if i % every == 0:
            out.append(
                f'<text x="{_n(x + bar_w / 2)}" y="{_n(base + 15)}" text-anchor="middle" '
                f'font-size="{LABEL_PX}" fill="{MUTED}">'
                f"{_t(formats.date_format(week, 'j b'))}</text>"
            )

    # The legend: one row of colour and words per category that occurs, wrapped.
    x, y = LEFT, base + 34
    for key, text in weekly.categories:
        w = 12 + 6 + text_width(str(text), LABEL_CHAR) + 18
        if x + w > width - RIGHT and x > LEFT:
            x, y = LEFT, y + 18
        out.append(
            f'<rect x="{_n(x)}" y="{_n(y - 10)}" width="12" height="12" fill="{fill[key]}"/>'
            f'<text x="{_n(x + 18)}" y="{_n(y)}" font-size="{LABEL_PX}" fill="{INK}">'
            f"{_t(text)}</text>"
        )
        x += w
    height = y + 12
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" role="img" '
            f'width="{_n(width)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" font-family={_a(FONT)} '
            f"aria-labelledby={_a(f'{chart_id}-title {chart_id}-desc')} "
            f"id={_a(chart_id)} data-scale={_a(_n(scale))}>",
            f"<title id={_a(chart_id + '-title')}>{_t(title)}</title>",
            f"<desc id={_a(chart_id + '-desc')}>{_t(_description(weekly))}</desc>",
            f'<rect width="{_n(width)}" height="{_n(height)}" fill="#fff"/>',
            *out,
            "</svg>",
        ]
    )
