"""Hand-made SVG charts: lines, bars, histograms, a heatmap, a funnel and a forest plot.

Charts are drawn on the server as inline SVG (ADR 0690): they need no script, so they render
under the dashboard's self-only Content-Security-Policy, print, and travel inside the
self-contained HTML report unchanged. Colours are SVG presentation attributes (not ``style``
attributes, which the CSP forbids); text takes the page's font. Every chart has a ``<title>``
and ``role="img"`` so screen readers announce it; the CSV link beside it gives the numbers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#4338ca", "#0f9d77", "#e08a00", "#d0366b", "#3b8bd9", "#7a5af8", "#6b7385")
INK, MUTED, GRID, SOFT = "#14171f", "#6b7385", "#e5e7ee", "#eef0ff"
Fmt = Callable[[float], str]
# Default canvas. The SVG scales to its card (viewBox), text with it: a canvas about as wide as
# a half-width card keeps 12-unit text near 11 px at 1280 px and larger when the card is wider.
W, H = 520, 240
PAD_L, PAD_R, PAD_T, PAD_B = 56, 16, 16, 40


@dataclass(frozen=True)
class Series:
    """One line (or bar group) of a chart; ``None`` values leave a gap."""

    name: str
    values: Sequence[float | None]


def plain(v: float) -> str:
    """A number with thousands separators; one decimal when it is not whole."""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def percent(v: float) -> str:
    return f"{v * 100:.0f}%" if abs(v * 100 - round(v * 100)) < 0.05 else f"{v * 100:.1f}%"


def nice_max(v: float) -> float:
    """The smallest 1/2/2.5/5 × 10^k at or above ``v`` (a round top for the y axis)."""
    if v <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(v))
    for step in (1, 2, 4, 6, 8, 10):  # quarters of these are round too
        if v <= step * base + 1e-12:
            return step * base
    return 10 * base


def text_width(s: str, size: float = 12) -> float:
    """About how wide ``s`` is drawn at ``size`` px: CJK characters are square (one em), the
    rest about 0.6 em. No font metrics on the server; a slight overestimate keeps labels apart."""
    wide = sum(1 for ch in s if ord(ch) >= 0x2E80)
    return size * (wide + 0.6 * (len(s) - wide))


def _svg(
    title: str,
    body: list[str],
    width: float = W,
    height: float = H,
    cls: str = "",
    natural: bool = False,
) -> Markup:
    """The chart's SVG. ``natural``: drawn at its own size (one unit a pixel), shrunk only when
    its card is narrower (the stylesheet); otherwise stretched to the card's width."""
    size = f'width="{width:.0f}" height="{height:.0f}" ' if natural else ""
    head = (
        f'<svg class="chart {cls}" viewBox="0 0 {width:.0f} {height:.0f}" {size}role="img" '
        f'preserveAspectRatio="xMidYMid meet" '
        f'font-size="12" font-family="inherit"><title>{escape(title)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _text(x: float, y: float, s: str, anchor: str = "middle", fill: str = MUTED, **kw: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in kw.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{extra}>'
        f"{escape(s)}</text>"
    )


def left_margin(top: float, fmt: Fmt) -> float:
    """Room for the y axis: the widest of its five labels, plus the tick gap."""
    widest = max(text_width(fmt(top * i / 4)) for i in range(5))
    return max(float(PAD_L) - 16, widest + 14)


def _axes(top: float, fmt: Fmt, width: int, height: int, left: float = PAD_L) -> list[str]:
    """Horizontal grid lines at quarters of ``top`` with their labels, right-aligned in the
    ``left`` margin (sized to the widest label: nothing is cut off)."""
    out = []
    for i in range(5):
        y = height - PAD_B - (height - PAD_T - PAD_B) * i / 4
        out.append(
            f'<line x1="{left:.1f}" x2="{width - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        out.append(_text(left - 8, y + 4, fmt(top * i / 4), "end"))
    return out


def shown_ticks(labels: Sequence[str], xs: Sequence[float], gap: float = 10) -> list[int]:
    """Which x labels to draw so that none overlaps the next: every k-th one (k as small as
    the widest label allows), and the last one in place of its neighbour when they would
    touch. Empty labels are never drawn (callers blank the positions they want no tick at)."""
    candidates = [i for i, label in enumerate(labels) if label]
    if not candidates:
        return []
    widest = max(text_width(labels[i]) for i in candidates)
    spacing = min(
        (xs[b] - xs[a] for a, b in itertools.pairwise(candidates)),
        default=widest + gap,
    )
    step = max(1, math.ceil((widest + gap) / max(spacing, 1e-9)))
    chosen = candidates[::step]
    last = candidates[-1]
    if chosen[-1] != last:
        if xs[last] - xs[chosen[-1]] < widest + gap:
            chosen.pop()
        chosen.append(last)
    return chosen


def _x_labels(
    labels: Sequence[str], xs: Sequence[float], height: int, width: float = W
) -> list[str]:
    """The thinned x labels, each kept inside the canvas (the last one may shift left)."""
    out = []
    for i in shown_ticks(labels, xs):
        half = text_width(labels[i]) / 2
        out.append(_text(min(max(xs[i], half), width - half), height - PAD_B + 18, labels[i]))
    return out


def _legend(series: Sequence[Series], width: int, left: float = PAD_L) -> list[str]:
    """Colour keys on one line above the plot (widths measured, CJK included)."""
    if len(series) < 2:
        return []
    out, x = [], left
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x:.1f}" y="2" width="10" height="10" rx="2" fill="{colour}"/>')
        out.append(_text(x + 14, 11, s.name, "start", INK))
        x += 28 + text_width(s.name)
    return out


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Fmt = plain,
    top: float | None = None,
    width: int = W,
    height: int = H,
    dots: bool | None = None,
) -> Markup:
    """Lines over periods (retention and repurchase over time, liability…). Blank labels
    get no tick; the others are thinned until they do not overlap."""
    values = [v for s in series for v in s.values if v is not None]
    top = top if top is not None else nice_max(max(values, default=0.0))
    n = len(labels)
    left = left_margin(top, fmt)
    inner_w, inner_h = width - left - PAD_R, height - PAD_T - PAD_B
    xs = [left + (inner_w * (i + 0.5) / n) for i in range(n)]
    body = _axes(top, fmt, width, height, left) + _x_labels(labels, xs, height, width)
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        points: list[tuple[float, float, float]] = []
        for x, v in zip(xs, s.values, strict=True):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                points.append((x, -1, math.nan))
                continue
            points.append((x, height - PAD_B - inner_h * min(v / top, 1.0), v))
        path, pen = [], "M"
        for x, y, v in points:
            if math.isnan(v):
                pen = "M"
                continue
            path.append(f"{pen}{x:.1f},{y:.1f}")
            pen = "L"
        if path:
            body.append(
                f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2.5" '
                'stroke-linejoin="round" stroke-linecap="round"/>'
            )
        # A dot (with its value on hover) per point, unless they would run into each other.
        for x, y, v in points if (dots if dots is not None else n <= 40) else []:
            if not math.isnan(v):
                body.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#fff" stroke="{colour}" '
                    f'stroke-width="2"><title>{escape(s.name)}: {escape(fmt(v))}</title></circle>'
                )
    return _svg(title, body + _legend(series, width, left), width, height, "line")


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Fmt = plain,
    width: int = W,
    height: int = H,
    highlight: Callable[[int], bool] | None = None,
) -> Markup:
    """Vertical bars, grouped when there are several series (histograms, counts per stage)."""
    values = [v or 0.0 for s in series for v in s.values]
    top = nice_max(max(values, default=0.0))
    n, k = len(labels), max(1, len(series))
    left = left_margin(top, fmt)
    inner_w, inner_h = width - left - PAD_R, height - PAD_T - PAD_B
    slot = inner_w / max(n, 1)
    bar = max(2.0, min(48.0, slot * 0.72 / k))
    xs = [left + slot * (i + 0.5) for i in range(n)]
    body = _axes(top, fmt, width, height, left) + _x_labels(labels, xs, height, width)
    for j, s in enumerate(series):
        for i, v in enumerate(s.values):
            v = v or 0.0
            h = inner_h * min(v / top, 1.0)
            x = xs[i] - bar * k / 2 + bar * j
            colour = PALETTE[j % len(PALETTE)]
            if highlight is not None and k == 1 and not highlight(i):
                colour = "#a5a1f0"
            body.append(
                f'<rect x="{x:.1f}" y="{height - PAD_B - h:.1f}" width="{bar - 1:.1f}" '
                f'height="{h:.1f}" rx="3" fill="{colour}"><title>{escape(labels[i])} · '
                f"{escape(s.name)}: {escape(fmt(v))}</title></rect>"
            )
    return _svg(title, body + _legend(series, width, left), width, height, "bars")


def hbar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    fmt: Fmt = plain,
    notes: Sequence[str] | None = None,
    width: int = W,
) -> Markup:
    """Horizontal bars with a label column: one row per category (RFM segments, funnel)."""
    row = 30
    height = PAD_T + row * len(labels) + 8
    top = max(values, default=0.0) or 1.0
    texts = [f"{fmt(v)}" + (f" · {notes[i]}" if notes else "") for i, v in enumerate(values)]
    # Both text columns sized to what they hold, so no label or note runs off the canvas.
    label_w = 10 + max([text_width(label) for label in labels] + [40.0]) + 10
    note_w = max([text_width(t) for t in texts] + [30.0]) + 8
    room = max(60.0, width - label_w - note_w - 8)
    body = []
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = PAD_T + i * row
        w = room * v / top
        body.append(_text(label_w - 10, y + 17, label, "end", INK))
        body.append(
            f'<rect x="{label_w:.1f}" y="{y + 4}" width="{room:.1f}" height="{row - 10}" rx="4" '
            f'fill="{SOFT}"/>'
        )
        body.append(
            f'<rect x="{label_w:.1f}" y="{y + 4}" width="{max(w, 0):.1f}" height="{row - 10}" '
            f'rx="4" fill="{PALETTE[0]}"><title>{escape(label)}: {escape(fmt(v))}</title></rect>'
        )
        body.append(_text(label_w + room + 8, y + 17, texts[i], "start", INK))
    return _svg(title, body, width, height, "hbars")


def heatmap(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    cells: dict[tuple[int, int], float],
    fmt: Fmt = percent,
    notes: Sequence[str] = (),
    width: int | None = None,
) -> Markup:
    """A cohort grid: one row per cohort, one column per month since; colour = share. Without
    a ``width`` the canvas fits cells wide enough for their value."""
    cell_h = 26
    label_w = max([text_width(r) for r in rows] + [60.0]) + 16
    note_w = max([text_width(n) for n in notes] + [40.0]) + 16
    cols = max(1, len(columns))
    if width is None:
        width = max(W, round(label_w + note_w + PAD_R + cols * (text_width("100%") + 20)))
    cell_w = (width - label_w - note_w - PAD_R) / cols
    height = 30 + cell_h * len(rows) + 6
    body = [_text(label_w + cell_w * (j + 0.5), 18, c) for j, c in enumerate(columns)]
    for i, r in enumerate(rows):
        y = 26 + i * cell_h
        body.append(_text(label_w - 8, y + 17, r, "end", INK))
        if i < len(notes):
            body.append(_text(width - PAD_R, y + 17, notes[i], "end"))
        for j in range(len(columns)):
            v = cells.get((i, j))
            if v is None:
                continue
            shade = _blend(v)
            ink = "#ffffff" if v >= 0.45 else INK
            x = label_w + j * cell_w
            body.append(
                f'<rect x="{x + 1:.1f}" y="{y + 1}" width="{cell_w - 2:.1f}" '
                f'height="{cell_h - 2}" rx="3" fill="{shade}"><title>{escape(r)} · '
                f"{escape(columns[j])}: {escape(fmt(v))}</title></rect>"
            )
            if cell_w >= 34:
                body.append(_text(x + cell_w / 2, y + 17, fmt(v), "middle", ink))
    return _svg(title, body, width, height, "heatmap", natural=True)


def _blend(share: float) -> str:
    """White → brand indigo by share (0..1)."""
    share = max(0.0, min(1.0, share))
    lo, hi = (238, 240, 255), (67, 56, 202)
    r, g, b = (round(a + (z - a) * share**0.7) for a, z in zip(lo, hi, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def pareto_chart(
    title: str, points: Sequence[tuple[float, float]], width: int = W, height: int = H
) -> Markup:
    """Cumulative revenue share (y) by share of customers, best first (x), against the line of
    perfect equality. ``points`` are ``(customer share, revenue share)`` pairs, ascending."""
    left = left_margin(1.0, percent)
    inner_w, inner_h = width - left - PAD_R, height - PAD_T - PAD_B
    x0, y0 = left, height - PAD_B
    body = _axes(1.0, percent, width, height, left)
    ticks = [i / 10 for i in range(1, 11)]
    body += _x_labels([percent(t) for t in ticks], [x0 + inner_w * t for t in ticks], height, width)
    body.append(
        f'<line x1="{x0:.1f}" y1="{y0}" x2="{width - PAD_R}" y2="{PAD_T}" stroke="{MUTED}" '
        'stroke-dasharray="4 4"/>'
    )
    xy = [(x0 + inner_w * c, y0 - inner_h * s) for c, s in points]
    d = f"M{x0:.1f},{y0} " + " ".join(f"L{x:.1f},{y:.1f}" for x, y in xy)
    if xy:
        body.append(f'<path d="{d} L{xy[-1][0]:.1f},{y0} Z" fill="{SOFT}"/>')
    body.append(f'<path d="{d}" fill="none" stroke="{PALETTE[0]}" stroke-width="2.5"/>')
    for (x, y), (c, s) in zip(xy, points, strict=True):
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#fff" stroke="{PALETTE[0]}" '
            f'stroke-width="2"><title>{percent(c)} → {percent(s)}</title></circle>'
        )
    return _svg(title, body, width, height, "pareto")


def forest_chart(
    title: str,
    labels: Sequence[str],
    rows: Sequence[tuple[float, float, float]],
    fmt: Fmt = percent,
    width: int = W,
) -> Markup:
    """Differences with 95% intervals (campaign uplift), a zero line for "no effect"."""
    row = 34
    height = PAD_T + row * len(rows) + 24
    span = max([abs(v) for r in rows for v in r] + [1e-9]) * 1.1
    texts = [f"{fmt(d)} [{fmt(lo)}, {fmt(hi)}]" for d, lo, hi in rows]
    label_w = max([text_width(label) for label in labels] + [60.0]) + 20
    room = max(80.0, width - label_w - max([text_width(t) for t in texts] + [40.0]) - 24)

    def sx(v: float) -> float:
        return label_w + room * (v + span) / (2 * span)

    body = [
        f'<line x1="{sx(0):.1f}" x2="{sx(0):.1f}" y1="{PAD_T - 6}" y2="{height - 20}" '
        f'stroke="{MUTED}" stroke-dasharray="3 3"/>',
        _text(sx(0), height - 6, fmt(0.0)),
    ]
    for i, (label, (d, lo, hi)) in enumerate(zip(labels, rows, strict=True)):
        y = PAD_T + i * row + row / 2
        colour = PALETTE[1] if lo > 0 else (PALETTE[3] if hi < 0 else PALETTE[6])
        body.append(_text(label_w - 10, y + 4, label, "end", INK))
        body.append(
            f'<line x1="{sx(lo):.1f}" x2="{sx(hi):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="3" stroke-linecap="round"/>'
        )
        body.append(f'<circle cx="{sx(d):.1f}" cy="{y:.1f}" r="6" fill="{colour}"/>')
        body.append(_text(width - PAD_R, y + 4, texts[i], "end", INK))
    return _svg(title, body, width, height, "forest")


def sparkline(values: Sequence[float | None], width: int = 120, height: int = 32) -> Markup:
    """A tiny trend line for a KPI card (no axes)."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    if len(pts) < 2:
        return Markup("")
    lo, hi = min(v for _, v in pts), max(v for _, v in pts)
    spread = (hi - lo) or 1.0
    n = max(len(values) - 1, 1)
    d = " ".join(
        f"{'M' if k == 0 else 'L'}{2 + (width - 4) * i / n:.1f},"
        f"{height - 3 - (height - 6) * (v - lo) / spread:.1f}"
        for k, (i, v) in enumerate(pts)
    )
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" aria-hidden="true" '
        f'><path d="{d}" fill="none" stroke="{PALETTE[0]}" '
        'stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/></svg>'
    )
