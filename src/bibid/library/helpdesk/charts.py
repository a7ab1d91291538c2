"""A definition drawn as a printable SVG flowchart, with the path of a case highlighted.

Only presentation attributes, never `style` (the console's CSP has no 'unsafe-inline' for
styles, and the SVG is shown inline in the page); every text from a definition is escaped.
"""

from __future__ import annotations

import textwrap
from itertools import pairwise
from xml.sax.saxutils import escape, quoteattr

from django.utils.translation import gettext as _

from . import chart_layout
from .definitions import Definition, Node
from .engine import PathStep
from .findings import finding_words

FONT = "Arial, Helvetica, sans-serif"
# Text is measured by estimate (no font files here): ~7 px a character at 13 px, bold a
# little more, capitals and m/w wider, i/l/t and punctuation narrower.
TITLE_PX, TITLE_CHAR, TITLE_WRAP, TITLE_LINE = 13, 7.4, 24, 16.0
STEP_PX, STEP_CHAR, STEP_WRAP, STEP_LINE = 11, 6.1, 30, 13.0
LABEL_PX, LABEL_CHAR = 11, 6.1
NARROW, WIDE = frozenset("iljtfr.,:;!|'()-/ "), frozenset("mwMW@")
PAD_X, PAD_Y, HEX_INSET, MIN_W = 12.0, 9.0, 14.0, 112.0
MARGIN = 20.0
INK, MUTED, EDGE = "#1b1f24", "#4a525c", "#5b6470"
PATH_STROKE, PATH_FILL = "#c2410c", "#ffd9a8"
# (fill, stroke) per kind; an end by its result.
COLOURS = {
    "check": ("#fff7d6", "#8a6d00"),
    "action": ("#dbeafe", "#1d4ed8"),
    "question": ("#f3e8ff", "#7e22ce"),
    "advice": ("#dcfce7", "#15803d"),
    "solved": ("#d1fae5", "#047857"),
    "escalate": ("#fee2e2", "#b91c1c"),
    "system": ("#e0f2fe", "#0369a1"),
    "patron": ("#fce7f3", "#be185d"),
    "staff": ("#ffedd5", "#c2410c"),
}
KINDS = ("check", "action", "question", "advice", "system", "patron", "staff", "end")


def _kind_labels(flow: bool) -> dict[str, str]:
    return {
        "check": _("controle (automatisch)"),
        "action": _("actie (medewerker bevestigt)"),
        "question": _("vraag aan de klant"),
        "advice": _("advies aan de klant"),
        "system": _("het systeem doet iets"),
        "patron": _("de klant doet iets"),
        "staff": _("de medewerker doet iets"),
        "solved": _("einde: gelukt") if flow else _("einde: opgelost"),
        "escalate": _("einde: niet gelukt") if flow else _("einde: doorzetten"),
    }


def _clean(text: str) -> str:
    # XML 1.0 has no place for control characters; a definition has no use for them.
    return "".join(c for c in text if c >= " " or c in "\t\n")


def _t(text: str) -> str:
    return escape(_clean(text))


def _a(text: str) -> str:
    return quoteattr(_clean(text))


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def text_width(text: str, per_char: float) -> float:
    """Estimate the width of `text` in px, `per_char` being an ordinary lower-case letter."""
    return per_char * sum(
        0.5 if c in NARROW else 1.45 if c in WIDE else 1.25 if c.isupper() else 1.0 for c in text
    )


def _style(node: Node) -> tuple[str, str]:
    return COLOURS[node.result or "escalate"] if node.kind == "end" else COLOURS[node.kind]


def edges(definition: Definition) -> list[tuple[str, str, str]]:
    """Return every edge as (source, target, label), one per pair of nodes."""
    found = []
    for name, node in definition.nodes.items():
        labelled: dict[str, list[str]] = {}

        def add(target: str | None, label: str, labelled=labelled) -> None:
            if target:
                labels = labelled.setdefault(target, [])
                if label and label not in labels:
                    labels.append(label)

        if node.kind == "check":
            add(node.ok, _("in orde"))
            add(node.found, _("gevonden"))
            for code, target in node.routes.items():
                if target != node.found:  # otherwise "gevonden" says it already
                    add(target, finding_words(code))  # the finding in words, not its code
        elif node.kind == "question":
            for answer in node.answers:
                add(answer.next, answer.label)
        else:
            add(node.next, "")
        found += [(name, target, " / ".join(labels)) for target, labels in labelled.items()]
    return found


def _text_lines(node: Node) -> tuple[list[str], list[str]]:
    title = textwrap.wrap(_clean(node.title), TITLE_WRAP) or [""]
    step = textwrap.wrap(_clean(node.step), STEP_WRAP)
    return title, step


def _size(node: Node) -> tuple[float, float]:
    title, step = _text_lines(node)
    inner = max(
        [text_width(line, TITLE_CHAR) for line in title]
        + [text_width(line, STEP_CHAR) for line in step]
    )
    extra = {"check": 2 * HEX_INSET, "question": 16.0, "advice": 10.0, "end": 16.0}
    w = max(MIN_W, inner + 2 * PAD_X + extra.get(node.kind, 0.0))
    h = 2 * PAD_Y + len(title) * TITLE_LINE + (len(step) * STEP_LINE + 3 if step else 0)
    return round(w), round(h)


def _shape(kind: str, x: float, y: float, w: float, h: float, attrs: str) -> str:
    if kind == "check":  # a hexagon: flat top and bottom for the edges, pointed sides
        pts = [
            (x, y + h / 2),
            (x + HEX_INSET, y),
            (x + w - HEX_INSET, y),
            (x + w, y + h / 2),
            (x + w - HEX_INSET, y + h),
            (x + HEX_INSET, y + h),
        ]
        return f'<polygon points="{" ".join(f"{_n(a)},{_n(b)}" for a, b in pts)}" {attrs}/>'
    if kind == "advice":  # a note with a folded corner
        f = 10.0
        return (
            f'<path d="M{_n(x)},{_n(y)} H{_n(x + w - f)} L{_n(x + w)},{_n(y + f)} '
            f"V{_n(y + h)} H{_n(x)} Z M{_n(x + w - f)},{_n(y)} V{_n(y + f)} "
            f'H{_n(x + w)}" {attrs}/>'
        )
    radius = {"end": h / 2, "action": 8.0, "patron": 8.0, "staff": 8.0}.get(kind, 0.0)
    return (
        f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" '
        f'rx="{_n(radius)}" {attrs}/>'
    )


def _node(
    prefix: str, name: str, node: Node, box: chart_layout.Box, *, on_path: list[int], stopped: bool
) -> str:
    fill, stroke = _style(node)
    x, y = box.left, box.y
    classes = (
        f"node kind-{node.kind}" + (" on-path" if on_path else "") + (" stopped" if stopped else "")
    )
    width = 3 if node.kind == "action" else 1.5
    out = [
        f"<g class={_a(classes)} id={_a(f'{prefix}-node-{name}')} data-node={_a(name)}>",
        f"<title>{_t(node.title + (': ' + node.text if node.text else ''))}</title>",
    ]
    if stopped:
        out.append(
            _shape(
                node.kind,
                x - 6,
                y - 6,
                box.w + 12,
                box.h + 12,
                f'fill="none" stroke="{PATH_STROKE}" stroke-width="3" stroke-dasharray="7 4"',
            )
        )
    out.append(
        _shape(
            node.kind,
            x,
            y,
            box.w,
            box.h,
            f'fill="{PATH_FILL if on_path else fill}" stroke="{stroke}" stroke-width="{width}"',
        )
    )
    if node.kind == "question":
        out.append(
            f'<circle cx="{_n(x + box.w - 11)}" cy="{_n(y + 11)}" r="8" fill="{stroke}"/>'
            f'<text x="{_n(x + box.w - 11)}" y="{_n(y + 15)}" text-anchor="middle" '
            f'font-size="12" font-weight="700" fill="#fff">?</text>'
        )
    title, step = _text_lines(node)
    cx, top = box.x, y + PAD_Y + TITLE_PX
    out.append(
        f'<text x="{_n(cx)}" y="{_n(top)}" text-anchor="middle" '
        f'font-size="{TITLE_PX}" font-weight="700" fill="{INK}">'
    )
    out += [
        f'<tspan x="{_n(cx)}" dy="{0 if i == 0 else _n(TITLE_LINE)}">{_t(line)}</tspan>'
        for i, line in enumerate(title)
    ]
    out.append("</text>")
    if step:
        top += (len(title) - 1) * TITLE_LINE + STEP_LINE + 3
        out.append(
            f'<text class="step" x="{_n(cx)}" y="{_n(top)}" text-anchor="middle" '
            f'font-size="{STEP_PX}" fill="{MUTED}">'
        )
        out += [
            f'<tspan x="{_n(cx)}" dy="{0 if i == 0 else _n(STEP_LINE)}">{_t(line)}</tspan>'
            for i, line in enumerate(step)
        ]
        out.append("</text>")
    if on_path:
        badge = ",".join(str(i) for i in on_path)
        bw = 10 + 7 * len(badge)
        out.append(
            f'<rect x="{_n(x - bw / 2)}" y="{_n(y - 9)}" width="{bw}" height="18" '
            f'rx="9" fill="{PATH_STROKE}"/><text x="{_n(x)}" y="{_n(y + 4)}" '
            f'text-anchor="middle" font-size="11" font-weight="700" '
            f'fill="#fff">{badge}</text>'
        )
    out.append("</g>")
    return "\n".join(out)


def _point(route: chart_layout.Route, t: float) -> tuple[float, float]:
    """A point at `t` along the first stretch of a forward edge (where its label goes)."""
    (x0, y0), (x1, y1) = route.points[0], route.points[1]
    if x0 == x1:
        return x0, y0 + (y1 - y0) * t
    mid, u = (y0 + y1) / 2, 1 - t
    # the cubic with vertical tangents that _route_d draws
    return (
        u**3 * x0 + 3 * u * u * t * x0 + 3 * u * t * t * x1 + t**3 * x1,
        u**3 * y0 + 3 * u * t * mid + t**3 * y1,
    )


def _route_d(route: chart_layout.Route) -> str:
    pts = route.points
    if route.back:
        (x0, y0), (lane, _y), (_l, y1), (x1, _) = pts
        r, s = min(14.0, abs(y0 - y1) / 2), route.side
        return (
            f"M{_n(x0)},{_n(y0)} H{_n(lane - s * r)} Q{_n(lane)},{_n(y0)} {_n(lane)},"
            f"{_n(y0 - r)} V{_n(y1 + r)} Q{_n(lane)},{_n(y1)} {_n(lane - s * r)},{_n(y1)} "
            f"H{_n(x1)}"
        )
    d = [f"M{_n(pts[0][0])},{_n(pts[0][1])}"]
    for (x0, y0), (x1, y1) in pairwise(pts):
        mid = (y0 + y1) / 2
        d.append(
            f"V{_n(y1)}"
            if x0 == x1
            else f"C{_n(x0)},{_n(mid)} {_n(x1)},{_n(mid)} {_n(x1)},{_n(y1)}"
        )
    return " ".join(d)


def _label_spots(placed: chart_layout.Layout, labelled: list[tuple[str, str, str]]):
    """Where each edge label goes: (x, y, width, anchor). The labels of one box's edges are
    staggered along their edges, then whatever still overlaps is moved to the right."""
    spots: dict[tuple[str, str], list] = {}
    by_source: dict[str, list[tuple[str, str, str]]] = {}
    for source, target, label in labelled:
        route = placed.routes[(source, target)]
        w = text_width(label, LABEL_CHAR) + 10
        if route.back:
            spots[(source, target)] = [
                route.lane + route.side * 6,
                (route.points[1][1] + route.points[2][1]) / 2,
                w,
                "start" if route.side == 1 else "end",
            ]
        else:
            by_source.setdefault(source, []).append((source, target, label))
    for group in by_source.values():
        group.sort(
            key=lambda e: (placed.routes[e[:2]].points[1][0], placed.routes[e[:2]].points[0][0])
        )
        for i, (source, target, label) in enumerate(group):
            t = 0.4 if len(group) == 1 else 0.25 + 0.4 * i / (len(group) - 1)
            x, y = _point(placed.routes[(source, target)], t)
            spots[(source, target)] = [x, y, text_width(label, LABEL_CHAR) + 10, "middle"]
    ordered = sorted(spots, key=lambda k: (spots[k][1], spots[k][0], k))
    for i, key in enumerate(ordered):
        x, y, w, anchor = spots[key]
        for other in ordered[:i]:
            ox, oy, ow, oanchor = spots[other]
            if (
                anchor == oanchor == "middle"
                and abs(oy - y) < 17
                and abs(ox - x) < (ow + w) / 2 + 3
            ):
                x = ox + (ow + w) / 2 + 3
        spots[key][0] = x
    return spots


def _label(text: str, x: float, y: float, w: float, *, hot: bool, anchor: str) -> str:
    left = {"middle": x - w / 2, "start": x, "end": x - w}[anchor]
    colour = PATH_STROKE if hot else INK
    bold = ' font-weight="700"' if hot else ""
    return (
        f'<g class="edge-label"><rect x="{_n(left)}" y="{_n(y - 8)}" width="{_n(w)}" '
        f'height="16" rx="3" fill="#fff" stroke="{colour if hot else "#c9d0d8"}" '
        f'stroke-width="{1.5 if hot else 0.75}"/><text x="{_n(left + w / 2)}" '
        f'y="{_n(y + 4)}" text-anchor="middle" font-size="{LABEL_PX}"{bold} '
        f'fill="{colour}">{_t(text)}</text></g>'
    )


def _legend(
    definition: Definition, prefix: str, with_path: bool, width: float, top: float
) -> tuple[str, float]:
    labels = _kind_labels(definition.kind == "flow")
    used = {
        (n.kind, (n.result or "escalate") if n.kind == "end" else n.kind)
        for n in definition.nodes.values()
    }
    items = [
        (kind, style)
        for kind in KINDS
        for style in (*KINDS, "solved", "escalate")
        if (kind, style) in used
    ]
    out = [
        f'<g class="legend" id={_a(prefix + "-legend")}>',
        f'<text x="{_n(MARGIN)}" y="{_n(top + 12)}" font-size="12" font-weight="700" '
        f'fill="{INK}">{_t(_("Legenda"))}</text>',
    ]
    x, y = MARGIN, top + 22
    entries = [(kind, style, labels[style]) for kind, style in items]
    if with_path:
        entries += [
            ("path", "", _("gevolgde weg (nummers: volgorde)")),
            ("stopped", "", _("hier stopte de diagnose")),
        ]
    for kind, style, text in entries:
        w = 44 + 8 + text_width(text, 6.6) + 22
        if x + w > max(width, 480) - MARGIN and x > MARGIN:
            x, y = MARGIN, y + 30
        if kind == "path":
            out.append(
                f'<path d="M{_n(x)},{_n(y + 11)} H{_n(x + 44)}" stroke="{PATH_STROKE}" '
                f'stroke-width="4" fill="none"/>'
            )
        elif kind == "stopped":
            out.append(
                _shape(
                    "action",
                    x + 3,
                    y + 2,
                    38,
                    18,
                    f'fill="{PATH_FILL}" stroke="'
                    f'{PATH_STROKE}" stroke-width="3" stroke-dasharray="7 4"',
                )
            )
        else:
            fill, stroke = COLOURS[style]
            out.append(
                _shape(
                    kind,
                    x,
                    y,
                    44,
                    22,
                    f'fill="{fill}" stroke="{stroke}" '
                    f'stroke-width="{3 if kind == "action" else 1.5}"',
                )
            )
        out.append(
            f'<text x="{_n(x + 52)}" y="{_n(y + 15)}" font-size="12" fill="{INK}">{_t(text)}</text>'
        )
        x += w
    out.append("</g>")
    return "\n".join(out), y + 30 - top


def _description(definition: Definition, path: list[PathStep]) -> str:
    nodes = definition.nodes
    start = nodes[definition.start].title
    text = _("%(title)s: stroomschema met %(n)d stappen, beginnend bij “%(start)s”.") % {
        "title": definition.title,
        "n": len(nodes),
        "start": start,
    }
    if path:
        steps = " → ".join(nodes[p.node].title for p in path)
        text += " " + _("Gevolgde weg: %(steps)s (gestopt bij “%(last)s”).") % {
            "steps": steps,
            "last": nodes[path[-1].node].title,
        }
    return text


def render_svg(
    definition: Definition, *, path: list[PathStep] | None = None, title: bool = True
) -> str:
    """Draw `definition` as an SVG flowchart; highlight `path` (a walk or a case's path)."""
    nodes = definition.nodes
    path = [step for step in (path or []) if step.node in nodes]
    prefix = f"chart-{definition.id}"
    all_edges = edges(definition)
    placed = chart_layout.layout(
        list(nodes),
        {name: _size(node) for name, node in nodes.items()},
        definition.start,
        [(s, t, text_width(label, LABEL_CHAR) + 10) for s, t, label in all_edges],
    )
    visits: dict[str, list[int]] = {}
    for i, step in enumerate(path, start=1):
        visits.setdefault(step.node, []).append(i)
    hot = {(a.node, b.node) for a, b in pairwise(path)}

    drawn_edges, drawn_labels, xs = [], [], []
    for box in placed.boxes.values():
        xs += [box.left - 10, box.right + 10]
    spots = _label_spots(placed, [e for e in all_edges if e[2]])
    for source, target, label in sorted(all_edges, key=lambda e: (e[0], e[1]) in hot):
        route = placed.routes[(source, target)]
        on = (source, target) in hot
        classes = "edge" + (" on-path" if on else "") + (" back" if route.back else "")
        drawn_edges.append(
            f"<path class={_a(classes)} data-edge={_a(f'{source}>{target}')} "
            f'd="{_route_d(route)}" fill="none" stroke="{PATH_STROKE if on else EDGE}" '
            f'stroke-width="{4 if on else 1.5}" '
            f'marker-end="url(#{prefix}-arrow{"-hot" if on else ""})"/>'
        )
        if route.back:
            xs.append(route.lane + route.side * 12)
        if label:
            x, y, w, anchor = spots[(source, target)]
            drawn_labels.append(_label(label, x, y, w, hot=on, anchor=anchor))
            left = {"middle": x - w / 2, "start": x, "end": x - w}[anchor]
            xs += [left, left + w]
    left = min(xs)
    header = 0.0
    heading = []
    if title:
        source = _("Uit de werkinstructie: %(seed)s · versie %(v)s") % {
            "seed": definition.seed,
            "v": definition.version,
        }
        heading = [
            f'<text x="{_n(MARGIN)}" y="{_n(MARGIN + 16)}" font-size="18" '
            f'font-weight="700" fill="{INK}">{_t(definition.title)}</text>',
            f'<text x="{_n(MARGIN)}" y="{_n(MARGIN + 36)}" font-size="12" '
            f'fill="{MUTED}">{_t(source)}</text>',
        ]
        header = 52.0
        xs += [left + max(text_width(definition.title, 10.0), text_width(source, 6.6))]
    chart_top = MARGIN + header + 12  # room for the step badges above the first row
    chart_h = max(b.bottom for b in placed.boxes.values())
    width = max(max(xs) - left + 2 * MARGIN, 480.0)
    legend, legend_h = _legend(definition, prefix, bool(path), width, chart_top + chart_h + 28)
    height = chart_top + chart_h + 28 + legend_h + MARGIN
    dx = MARGIN - left

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flowchart" role="img" '
        f'width="{_n(width)}" height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f"aria-labelledby={_a(f'{prefix}-title {prefix}-desc')} font-family={_a(FONT)} "
        f"data-definition={_a(definition.id)}>",
        f"<title id={_a(prefix + '-title')}>{_t(definition.title)}</title>",
        f"<desc id={_a(prefix + '-desc')}>{_t(_description(definition, path))}</desc>",
        "<defs>",
        *(
            f'<marker id={_a(f"{prefix}-arrow{suffix}")} viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="{size}" markerHeight="{size}" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 Z" fill="{colour}"/></marker>'
            for suffix, colour, size in (("", EDGE, 7), ("-hot", PATH_STROKE, 3.2))
        ),
        "</defs>",
        f'<rect class="paper" width="{_n(width)}" height="{_n(height)}" fill="#fff"/>',
        *heading,
        f'<g class="chart" transform="translate({_n(dx)},{_n(chart_top)})">',
        *drawn_edges,
        *(
            _node(
                prefix,
                name,
                node,
                placed.boxes[name],
                on_path=visits.get(name, []),
                stopped=bool(path) and name == path[-1].node,
            )
            for name, node in nodes.items()
        ),
        *drawn_labels,
        "</g>",
        legend,
        "</svg>",
    ]
    return "\n".join(out)


def case_path(raw: object) -> list[PathStep]:
    """Turn a case's stored path (JSON) into steps; anything malformed is left out."""
    steps = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("node"), str):
            steps.append(
                PathStep(item["node"], str(item.get("kind", "")), str(item.get("result", "")))
            )
    return steps
